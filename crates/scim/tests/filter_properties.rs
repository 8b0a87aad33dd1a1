//! No input makes the filter or path parser panic or recurse without bound.

use lanyard_scim::filter::{parse_filter, parse_path};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_filter(&text);
        let _ = parse_path(&text);
    }

    #[test]
    fn filter_shaped_text_never_panics(
        parts in prop::collection::vec(prop::sample::select(vec![
            "userName", "emails", "[", "]", "(", ")", " ", "eq", "pr", "and", "or", "not", "\"x\"",
            "\"", "\\", "1", "-2.5e3", "true", "null", ".", "value", "urn:a:b:User:", "co", "gt",
        ]), 0..40)
    ) {
        let text = parts.concat();
        let _ = parse_filter(&text);
        let _ = parse_path(&text);
    }
}
