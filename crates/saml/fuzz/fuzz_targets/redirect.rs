#![no_main]
use lanyard_saml::bindings::decode_redirect;
use lanyard_saml::certs::Certificate;
use lanyard_saml::dsig::Policy;
use lanyard_saml::xml::Limits;
use libfuzzer_sys::fuzz_target;

const CERT: &[u8] = include_bytes!("../../tests/fixtures/keys/idp1.cert.pem");

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    if let Ok(message) = decode_redirect(query, Limits::default()) {
        let _ = message.verify(&[Certificate::parse(CERT).unwrap()], Policy::default());
        let _ = lanyard_saml::requests::LogoutRequest::parse_unverified(&message.xml, Limits::default());
    }
    let _ = lanyard_saml::bindings::inflate(data, 64 * 1024);
});
