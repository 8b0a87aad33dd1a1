//! Regressions for what an attacker's review of this crate found: a canonicalization collision
//! through a Unicode space in a prefix, a panic on very long attribute names, parser and
//! canonicalization blow-ups, namespaced look-alike attributes, and reading rules.

mod common;

use common::Fixture;
use lanyard_saml::dsig;
use lanyard_saml::response::{self, Identity};
use lanyard_saml::signing::SigningKey;
use lanyard_saml::xml::{self, Limits, NS_ASSERTION};
use lanyard_saml::Error;

fn review(file: &str) -> String {
    std::fs::read_to_string(common::dir().join("review").join(file)).unwrap()
}

fn run(f: &Fixture, text: &str) -> Result<Identity, Error> {
    response::validate(text.as_bytes(), &f.connection(), f.expected(), f.now_ms())
}

fn idp1() -> SigningKey {
    SigningKey::parse(&std::fs::read(common::dir().join("keys/idp1.key.pem")).unwrap()).unwrap()
}

/// The `unsigned` fixture with its assertion edited by `edit`, then signed by idp1 (the
/// assertion declares its own namespaces, so it can be signed on its own and put back).
fn signed_variant(edit: impl Fn(&str) -> String) -> String {
    let f = Fixture::load("unsigned");
    let doc = xml::parse(f.xml.as_bytes(), Limits::default()).unwrap();
    let r = doc
        .descendants()
        .find(|n| xml::is(*n, NS_ASSERTION, "Assertion"))
        .unwrap()
        .range();
    drop(doc);
    let assertion = edit(&f.xml[r.clone()]);
    let signed = dsig::sign_enveloped(&assertion, &idp1()).unwrap();
    format!("{}{}{}", &f.xml[..r.start], signed, &f.xml[r.end..])
}

#[test]
fn a_unicode_space_in_a_prefix_cannot_hide_signed_elements() {
    let f = Fixture::load("generic");
    // Control: the same assertion, signed with PrefixList="#default" by xmlsec1, is accepted.
    let id = run(&f, &review("dflt-signed.xml")).expect("control");
    assert!(!id.attributes.is_empty());
    // The attacker renames the AttributeStatement into a prefix containing U+1680 (a Unicode
    // space but an XML name character). The prefix is now read whole, so the canonical bytes
    // change and the digest no longer matches.
    let e = run(&f, &review("dflt-evil.xml")).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e:?}");
    let doc = xml::parse(
        "<p\u{1680}q:a xmlns:p\u{1680}q=\"urn:x\"/>".as_bytes(),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(xml::element_prefix(&doc, doc.root_element()), "p\u{1680}q");
}

#[test]
fn very_long_attribute_names_are_refused_without_panicking() {
    let f = Fixture::load("generic");
    assert!(matches!(
        run(&f, &review("panic.xml")),
        Err(Error::Malformed(_))
    ));
    let long = format!("<r {}é=\"1\"/>", "a".repeat(65_534));
    assert!(xml::parse(long.as_bytes(), Limits::default()).is_err());
}

#[test]
fn parser_blowups_are_refused_up_front() {
    let limits = Limits::default();
    let decls: String = (0..3000).map(|i| format!(" xmlns:n{i}=\"u\"")).collect();
    let many_namespaces = format!("<r{decls}>{}</r>", "<e xmlns:b=\"u\"/>".repeat(100));
    assert!(matches!(
        xml::parse(many_namespaces.as_bytes(), limits),
        Err(Error::Malformed(_))
    ));
    let nested: String = (0..2000).map(|i| format!("<a xmlns:p{i}=\"u\">")).collect();
    assert!(matches!(
        xml::parse(nested.as_bytes(), limits),
        Err(Error::Malformed(_))
    ));
    let attrs: String = (0..5000).map(|i| format!(" a{i}=\"1\"")).collect();
    assert!(matches!(
        xml::parse(format!("<r{attrs}/>").as_bytes(), limits),
        Err(Error::Malformed(_))
    ));
    // Quotes hide '>' and '=' from the scan, as they do from the parser.
    assert!(xml::parse(b"<r a='x>y' b=\"=\"><c/></r>", limits).is_ok());
    assert!(xml::parse(
        b"<r><!-- <a <b <c --><![CDATA[<x y=1>]]><?pi <q?></r>",
        limits
    )
    .is_ok());
}

#[test]
fn a_long_prefix_list_is_refused() {
    let f = Fixture::load("entra");
    let list = (0..20)
        .map(|i| format!("p{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let attack = f.xml.replacen(
        "<Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        &format!("<Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{list}\"/></Transform>"),
        1,
    );
    assert_ne!(attack, f.xml);
    assert!(matches!(
        run(&f, &attack),
        Err(Error::SignatureStructure(_))
    ));
}

#[test]
fn namespaced_look_alike_attributes_are_not_read() {
    // `x:ID` placed before the real ID must not be taken for it.
    let f = Fixture::load("entra");
    let doc = xml::parse(f.xml.as_bytes(), Limits::default()).unwrap();
    let assertion = doc
        .descendants()
        .find(|n| xml::is(*n, NS_ASSERTION, "Assertion"))
        .unwrap();
    let id = xml::attr(assertion, "ID").unwrap().to_string();
    drop(doc);
    let attack = f.xml.replacen(
        &format!(" ID=\"{id}\""),
        &format!(" xmlns:x=\"urn:x\" x:ID=\"_other\" ID=\"{id}\""),
        1,
    );
    // The edit changes signed bytes, so it fails — but as a digest mismatch, having read the
    // right ID, not as a reference to "_other".
    let e = run(&f, &attack).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e:?}");
}

#[test]
fn unicode_whitespace_around_a_name_id_is_kept() {
    let text = signed_variant(|a| a.replacen("ada@acme.example<", "ada@acme.example\u{2003}<", 1));
    let f = Fixture::load("unsigned");
    let id = run(&f, &text).unwrap();
    assert_eq!(id.name_id, "ada@acme.example\u{2003}");
}

#[test]
fn an_unknown_condition_makes_the_assertion_indeterminate() {
    let text = signed_variant(|a| {
        a.replacen("<saml2:AudienceRestriction>", "<saml2:Condition xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"x:Custom\"/><saml2:AudienceRestriction>", 1)
    });
    let f = Fixture::load("unsigned");
    assert!(
        matches!(run(&f, &text), Err(Error::Malformed(ref m)) if m.contains("condition")),
        "{:?}",
        run(&f, &text)
    );
}

#[test]
fn an_attribute_value_holding_an_element_is_read_as_its_text() {
    let text = signed_variant(|a| {
        a.replacen(
            "<saml2:AttributeStatement xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\">",
            "<saml2:AttributeStatement xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"><saml2:Attribute Name=\"urn:oid:1.3.6.1.4.1.5923.1.1.1.10\"><saml2:AttributeValue><saml2:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">abc123</saml2:NameID></saml2:AttributeValue></saml2:Attribute>",
            1,
        )
    });
    let f = Fixture::load("unsigned");
    let id = run(&f, &text).unwrap();
    assert_eq!(
        id.attribute("urn:oid:1.3.6.1.4.1.5923.1.1.1.10"),
        Some(&["abc123".to_string()][..])
    );
}

#[test]
fn status_messages_are_marked_unverified() {
    let e = Error::Status {
        code: "urn:x".into(),
        message: Some("call +1 555".into()),
    };
    assert!(e.to_string().contains("not verified"), "{e}");
}

/// SAML profiles §4.1.4.2 requires an AuthnStatement in an SSO assertion. One without it (as an
/// attribute-only Keycloak client sends) is refused with that reason, not as malformed XML.
#[test]
fn an_assertion_without_an_authn_statement_is_refused_as_such() {
    let text = signed_variant(|a| {
        let start = a.find("<saml2:AuthnStatement").unwrap();
        let end_tag = "</saml2:AuthnStatement>";
        let end = a.find(end_tag).unwrap() + end_tag.len();
        format!("{}{}", &a[..start], &a[end..])
    });
    let f = Fixture::load("unsigned");
    let refused = run(&f, &text).unwrap_err();
    assert_eq!(refused, Error::NoAuthnStatement);
    assert!(refused.to_string().contains("AuthnStatement"));
    // Control: the same assertion with its statement, signed the same way, is accepted.
    run(&f, &signed_variant(str::to_string)).expect("control");
}
