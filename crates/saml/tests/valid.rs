//! Responses signed by real signing code (see fixtures/generate.py) are accepted, with the right
//! identity and attributes.

mod common;

use common::Fixture;
use lanyard_saml::response::{self, Identity};

fn accept(fixture: &Fixture) -> Identity {
    response::validate(
        fixture.xml.as_bytes(),
        &fixture.connection(),
        fixture.expected(),
        fixture.now_ms(),
    )
    .unwrap_or_else(|e| panic!("{}: refused: {e}", fixture.name))
}

fn check_expected(fixture: &Fixture, identity: &Identity) {
    let expected = &fixture.params["expected"];
    assert_eq!(
        identity.name_id,
        expected["name_id"].as_str().unwrap(),
        "{}",
        fixture.name
    );
    if let Some(format) = expected["name_id_format"].as_str() {
        assert_eq!(
            identity.name_id_format.as_deref(),
            Some(format),
            "{}",
            fixture.name
        );
    }
    if let Some(index) = expected["session_index"].as_str() {
        assert_eq!(
            identity.session_index.as_deref(),
            Some(index),
            "{}",
            fixture.name
        );
    }
    if let Some(attributes) = expected["attributes"].as_object() {
        for (name, values) in attributes {
            let values: Vec<String> = values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                identity.attribute(name),
                Some(values.as_slice()),
                "{}: attribute {name}",
                fixture.name
            );
        }
        assert_eq!(
            identity.attributes.len(),
            attributes.len(),
            "{}: attribute count",
            fixture.name
        );
    }
    assert_eq!(
        identity.in_response_to.as_deref(),
        Some(fixture.str("in_response_to"))
    );
    assert_eq!(identity.issuer, fixture.str("issuer"));
}

#[test]
fn okta_shaped_response_and_assertion_signed() {
    let f = Fixture::load("okta");
    let id = accept(&f);
    check_expected(&f, &id);
    assert!(id.response_signed && id.assertion_signed);
}

#[test]
fn entra_shaped_assertion_signed_with_millisecond_times() {
    let f = Fixture::load("entra");
    let id = accept(&f);
    check_expected(&f, &id);
    assert!(!id.response_signed && id.assertion_signed);
    assert_eq!(id.issue_instant % 1000, 123, "milliseconds are kept");
}

#[test]
fn generic_response_signed_only() {
    let f = Fixture::load("generic");
    let id = accept(&f);
    check_expected(&f, &id);
    assert!(id.response_signed && !id.assertion_signed);
}

#[test]
fn encrypted_with_aes_gcm_and_rsa_oaep_mgf1_sha1() {
    let f = Fixture::load("encrypted-gcm");
    let id = accept(&f);
    check_expected(&f, &id);
    assert!(id.assertion_signed);
}

#[test]
fn encrypted_with_aes_cbc_and_rsa_oaep_sha256() {
    let f = Fixture::load("encrypted-cbc");
    check_expected(&f, &accept(&f));
}

#[test]
fn ecdsa_signed() {
    let f = Fixture::load("ecdsa");
    check_expected(&f, &accept(&f));
}

#[test]
fn signed_by_the_second_of_three_certificates() {
    let f = Fixture::load("second-cert");
    assert_eq!(f.certs.len(), 3);
    check_expected(&f, &accept(&f));
}

#[test]
fn a_comment_in_the_name_id_yields_the_whole_value() {
    let f = Fixture::load("comment-in-nameid");
    let id = accept(&f);
    assert_eq!(id.name_id, "ada@acme.example.evil.com");
}

#[test]
fn base64_form_values_decode_to_the_same_bytes() {
    let f = Fixture::load("okta");
    let b64 = std::fs::read_to_string(common::dir().join("okta/response.b64")).unwrap();
    let decoded = response::decode_post(&b64, lanyard_saml::xml::Limits::default()).unwrap();
    assert_eq!(decoded, f.xml.as_bytes());
}

#[test]
fn hints_name_the_issuer_and_request_before_verification() {
    let f = Fixture::load("okta");
    let hints = response::peek(f.xml.as_bytes(), lanyard_saml::xml::Limits::default()).unwrap();
    assert_eq!(
        hints.in_response_to.as_deref(),
        Some(f.str("in_response_to"))
    );
    assert_eq!(hints.assertion_issuer.as_deref(), Some(f.str("issuer")));
    assert_eq!(hints.organization_name.as_deref(), Some("acme"));
    assert_eq!(hints.audience.as_deref(), Some(f.str("audience")));
}

#[test]
fn certificates_in_pem_bare_base64_and_der_are_the_same() {
    let pem = common::cert("idp1.cert.pem");
    assert_eq!(common::cert("idp1.cert.b64"), pem);
    assert_eq!(common::cert("idp1.cert.der"), pem);
    assert_eq!(pem.fingerprint_sha256.len(), 32 * 3 - 1);
    assert!(pem.not_after > pem.not_before);
}
