#![no_main]
use lanyard_saml::metadata::read_idp;
use lanyard_saml::xml::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_idp(data, Limits::default());
    let _ = lanyard_saml::certs::Certificate::parse(data);
});
