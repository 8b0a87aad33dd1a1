#![no_main]
use lanyard_saml::certs::Certificate;
use lanyard_saml::dsig::Policy;
use lanyard_saml::response::{peek, validate, Connection, Expected};
use lanyard_saml::xml::Limits;
use libfuzzer_sys::fuzz_target;

const CERT: &[u8] = include_bytes!("../../tests/fixtures/keys/idp1.cert.pem");

fuzz_target!(|data: &[u8]| {
    let certs = [Certificate::parse(CERT).unwrap()];
    let connection = Connection {
        sp_entity_id: "https://sp.lanyard.test/saml",
        acs_url: "https://sp.lanyard.test/saml",
        idp_issuer: "http://www.okta.com/exk1fixture",
        certificates: &certs,
        policy: Policy::default(),
        allow_idp_initiated: true,
        allow_expired_certificate: false,
        clock_skew_ms: 180_000,
        limits: Limits::default(),
        decryption_keys: &[],
        require_encryption: false,
        content_encryption: None,
    };
    let _ = peek(data, Limits::default());
    let _ = validate(data, &connection, Expected::Request("_req_fixture_1"), 1_767_225_660_000);
    let _ = validate(data, &connection, Expected::Unsolicited, i64::MAX);
});
