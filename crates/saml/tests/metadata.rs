//! IdP metadata of the shapes Okta, Entra ID and ADFS publish.

mod common;

use lanyard_saml::metadata::read_idp;
use lanyard_saml::xml::Limits;

#[test]
fn okta_entra_and_adfs_metadata_read() {
    for name in ["okta", "entra", "adfs"] {
        let dir = common::dir().join("metadata");
        let xml = std::fs::read(dir.join(format!("{name}.xml"))).unwrap();
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let md = read_idp(&xml, Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            md.entity_id,
            expected["entity_id"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(md.signed, expected["signed"].as_bool().unwrap(), "{name}");
        for (kind, endpoints) in [("sso", &md.sso), ("slo", &md.slo)] {
            for (binding, location) in expected[kind].as_object().unwrap() {
                let found = endpoints
                    .iter()
                    .find(|e| &e.binding == binding)
                    .map(|e| e.location.as_str());
                assert_eq!(found, location.as_str(), "{name} {kind} {binding}");
            }
        }
        let certs: Vec<_> = expected["signing_certs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| common::cert(c.as_str().unwrap()))
            .collect();
        assert_eq!(md.signing_certs, certs, "{name} signing certificates");
        let enc: Vec<_> = expected["encryption_certs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| common::cert(c.as_str().unwrap()))
            .collect();
        assert_eq!(md.encryption_certs, enc, "{name} encryption certificates");
        if let Some(formats) = expected["name_id_formats"].as_array() {
            let formats: Vec<&str> = formats.iter().map(|f| f.as_str().unwrap()).collect();
            assert_eq!(md.name_id_formats, formats, "{name}");
        }
    }
}

#[test]
fn our_signed_metadata_verifies() {
    use lanyard_saml::dsig::{self, Policy};
    use lanyard_saml::metadata::{write_sp_signed, SpMetadata};
    let key = lanyard_saml::signing::SigningKey::parse(
        &std::fs::read(common::dir().join("keys/idp1.key.pem")).unwrap(),
    )
    .unwrap();
    let cert = common::cert("idp1.cert.pem");
    let next = common::cert("idp2.cert.pem");
    let both = [cert.clone(), next.clone()];
    let sp = SpMetadata {
        id: Some("_md_1"),
        entity_id: "https://sp.lanyard.test/saml",
        acs_url: "https://sp.lanyard.test/saml",
        slo_url: Some("https://sp.lanyard.test/saml/slo"),
        signing_certs: &both,
        encryption_certs: std::slice::from_ref(&cert),
        name_id_format: None,
        authn_requests_signed: true,
        want_assertions_signed: true,
    };
    let xml = write_sp_signed(&sp, &key).unwrap();
    let doc = lanyard_saml::xml::parse(xml.as_bytes(), Limits::default()).unwrap();
    assert!(dsig::verify(
        &doc,
        doc.root_element(),
        std::slice::from_ref(&cert),
        Policy::default()
    )
    .unwrap()
    .is_some());
    // During a rotation both signing certificates are published, each with its use.
    assert_eq!(xml.matches("use=\"signing\"").count(), 2, "{xml}");
    assert_eq!(xml.matches("use=\"encryption\"").count(), 1, "{xml}");
    assert!(write_sp_signed(&SpMetadata { id: None, ..sp }, &key).is_err());
}
