//! Property tests: canonicalization is stable, and no input — random or a mangled real
//! response — makes the library panic.

mod common;

use lanyard_saml::c14n::{canonicalize, canonicalize_document, Options};
use lanyard_saml::xml::{parse, Limits};
use proptest::prelude::*;

/// Small XML documents with prefixes, default namespaces, attributes, text, comments.
fn document() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["a", "b", "p:a", "q:b", "p:c"]);
    let attr = (
        prop::sample::select(vec!["x", "y", "p:z", "q:w", "ID"]),
        "[a-z&<>\"'\t\n ]{0,6}",
    );
    let leaf = (
        name.clone(),
        prop::collection::vec(attr, 0..3),
        "[a-z&<> \r\n]{0,8}",
        any::<bool>(),
    )
        .prop_map(|(n, attrs, text, comment)| {
            let mut seen = std::collections::BTreeSet::new();
            let attrs: String = attrs
                .into_iter()
                .filter(|(k, _)| seen.insert(*k))
                .map(|(k, v)| format!(" {k}=\"{}\"", escape(&v)))
                .collect();
            let c = if comment { "<!--c-->" } else { "" };
            format!("<{n}{attrs}>{}{c}</{n}>", escape(&text))
        });
    leaf.prop_recursive(4, 24, 4, move |inner| {
        (
            prop::sample::select(vec!["a", "p:a", "q:b"]),
            prop::sample::select(vec![
                "",
                " xmlns=\"urn:d\"",
                " xmlns=\"\"",
                " xmlns:p=\"urn:p2\"",
            ]),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(n, decl, kids)| format!("<{n}{decl}>{}</{n}>", kids.concat()))
    })
    .prop_map(|body| format!("<r xmlns:p=\"urn:p\" xmlns:q=\"urn:q\">{body}</r>"))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn canonical_form_is_a_fixed_point(xml in document(), with_comments in any::<bool>()) {
        let doc = parse(xml.as_bytes(), Limits::default()).unwrap();
        let options = Options { with_comments, ..Options::default() };
        let once = canonicalize_document(&doc, &options);
        let again = parse(&once, Limits::default()).unwrap();
        prop_assert_eq!(canonicalize_document(&again, &options), once);
        // Every subtree canonicalizes to well-formed XML too.
        for node in doc.descendants().filter(|n| n.is_element()) {
            let sub = canonicalize(&doc, node, &options);
            prop_assert!(parse(&sub, Limits::default()).is_ok(), "{}", String::from_utf8_lossy(&sub));
        }
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let f = common::Fixture::load("okta");
        let _ = lanyard_saml::response::validate(&data, &f.connection(), f.expected(), f.now_ms());
        let _ = lanyard_saml::metadata::read_idp(&data, Limits::default());
        let _ = lanyard_saml::certs::Certificate::parse(&data);
        if let Ok(q) = std::str::from_utf8(&data) {
            let _ = lanyard_saml::bindings::decode_redirect(q, Limits::default());
        }
    }

    #[test]
    fn mangled_responses_never_panic_and_never_pass_with_another_subject(
        cut in 0usize..4000, insert in "[<>/=\"a-z:!-]{0,12}", which in 0usize..3
    ) {
        let name = ["okta", "entra", "generic"][which];
        let f = common::Fixture::load(name);
        let at = cut.min(f.xml.len());
        if f.xml.is_char_boundary(at) {
            let mangled = format!("{}{}{}", &f.xml[..at], insert, &f.xml[at..]);
            if let Ok(id) = lanyard_saml::response::validate(mangled.as_bytes(), &f.connection(), f.expected(), f.now_ms()) {
                prop_assert_eq!(id.name_id, "ada@acme.example");
            }
        }
    }
}
