#![no_main]
use lanyard_saml::xml::{parse, text, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = parse(data, Limits::default()) {
        for node in doc.descendants().filter(|n| n.is_element()) {
            let _ = text(node);
            let _ = lanyard_saml::xml::element_prefix(&doc, node);
        }
    }
});
