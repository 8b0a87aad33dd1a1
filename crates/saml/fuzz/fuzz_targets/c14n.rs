#![no_main]
use lanyard_saml::c14n::{canonicalize, canonicalize_document, Options};
use lanyard_saml::xml::{parse, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, xml)) = data.split_first() else { return };
    if let Ok(doc) = parse(xml, Limits::default()) {
        let options = Options { with_comments: flags & 1 == 1, inclusive_prefixes: vec!["#default", "a"], exclude: None };
        let whole = canonicalize_document(&doc, &options);
        // Canonical output is itself well-formed and canonicalizes to itself.
        let again = parse(&whole, Limits { max_bytes: 1 << 22, ..Limits::default() }).expect("c14n output parses");
        assert_eq!(canonicalize_document(&again, &options), whole);
        for node in doc.descendants().filter(|n| n.is_element()).take(8) {
            let _ = canonicalize(&doc, node, &options);
        }
    }
});
