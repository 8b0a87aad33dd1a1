//! Building requests, the HTTP-Redirect binding both ways, enveloped signing, and logout.

mod common;

use std::io::Write;

use lanyard_saml::bindings::{decode_redirect, redirect_url, Kind};
use lanyard_saml::dsig::{self, Policy};
use lanyard_saml::requests::{AuthnRequest, LogoutRequest, LogoutResponse, STATUS_SUCCESS};
use lanyard_saml::signing::SigningKey;
use lanyard_saml::xml::{self, Limits, NS_PROTOCOL};
use lanyard_saml::Error;

fn key(file: &str) -> SigningKey {
    SigningKey::parse(&std::fs::read(common::dir().join("keys").join(file)).unwrap()).unwrap()
}

fn request() -> String {
    AuthnRequest {
        id: "_req_1",
        issue_instant: 1_767_225_600_000,
        destination: "https://idp.example/sso?tenant=a&x=1",
        sp_entity_id: "https://sp.lanyard.test/saml",
        acs_url: "https://sp.lanyard.test/saml",
        name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
        force_authn: false,
    }
    .to_xml()
}

fn query_of(url: &str) -> &str {
    // The IdP URL's own query comes first; the binding's parameters follow it.
    let start = url
        .find("SAMLRequest=")
        .or_else(|| url.find("SAMLResponse="))
        .unwrap();
    &url[start..]
}

#[test]
fn authn_request_has_what_idps_read() {
    let xml = request();
    let doc = xml::parse(xml.as_bytes(), Limits::default()).unwrap();
    let root = doc.root_element();
    assert!(xml::is(root, NS_PROTOCOL, "AuthnRequest"));
    assert_eq!(root.attribute("ID"), Some("_req_1"));
    assert_eq!(
        root.attribute("Destination"),
        Some("https://idp.example/sso?tenant=a&x=1")
    );
    assert_eq!(
        root.attribute("AssertionConsumerServiceURL"),
        Some("https://sp.lanyard.test/saml")
    );
    assert_eq!(root.attribute("IssueInstant"), Some("2026-01-01T00:00:00Z"));
    assert!(xml.contains("<saml:Issuer>https://sp.lanyard.test/saml</saml:Issuer>"));
}

#[test]
fn redirect_binding_round_trips_and_checks_its_signature() {
    let xml = request();
    let sp_key = key("idp1.key.pem");
    let url = redirect_url(
        "https://idp.example/sso?tenant=a",
        Kind::Request,
        &xml,
        Some("state/with?odd&chars"),
        Some(&sp_key),
    );
    assert!(url.starts_with("https://idp.example/sso?tenant=a&SAMLRequest="));
    let msg = decode_redirect(query_of(&url), Limits::default()).unwrap();
    assert_eq!(msg.kind, Kind::Request);
    assert_eq!(msg.xml, xml.as_bytes());
    assert_eq!(msg.relay_state.as_deref(), Some("state/with?odd&chars"));
    msg.verify(&[common::cert("idp1.cert.pem")], Policy::default())
        .unwrap();
    assert_eq!(
        msg.verify(&[common::cert("idp2.cert.pem")], Policy::default()),
        Err(Error::UnknownSigner)
    );

    // Changing any signed parameter breaks the signature.
    let tampered = query_of(&url).replacen("RelayState=state", "RelayState=other", 1);
    let msg = decode_redirect(&tampered, Limits::default()).unwrap();
    assert_eq!(
        msg.verify(&[common::cert("idp1.cert.pem")], Policy::default()),
        Err(Error::UnknownSigner)
    );
    // Unsigned messages are reported as such.
    let unsigned = redirect_url("https://idp.example/sso", Kind::Request, &xml, None, None);
    let msg = decode_redirect(query_of(&unsigned), Limits::default()).unwrap();
    assert!(!msg.is_signed());
    assert_eq!(
        msg.verify(&[common::cert("idp1.cert.pem")], Policy::default()),
        Err(Error::Unsigned)
    );
    // A signature without its algorithm, or a parameter twice, is refused.
    let half = query_of(&url).split("&SigAlg=").next().unwrap().to_string() + "&Signature=AAAA";
    assert!(matches!(
        decode_redirect(&half, Limits::default()),
        Err(Error::Encoding(_))
    ));
    let twice = format!("{}&{}", query_of(&unsigned), query_of(&unsigned));
    assert!(matches!(
        decode_redirect(&twice, Limits::default()),
        Err(Error::Encoding(_))
    ));
}

#[test]
fn ecdsa_keys_sign_redirects_too() {
    let xml = request();
    let url = redirect_url(
        "https://idp.example/sso",
        Kind::Request,
        &xml,
        None,
        Some(&key("idp-ec.key.pem")),
    );
    let msg = decode_redirect(query_of(&url), Limits::default()).unwrap();
    msg.verify(&[common::cert("idp-ec.cert.pem")], Policy::default())
        .unwrap();
}

#[test]
fn a_deflate_bomb_is_stopped_at_the_limit() {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b'<'; 50 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 100 * 1024, "the bomb is small: {}", bomb.len());
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
    let query = format!(
        "SAMLRequest={}",
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    assert!(matches!(
        decode_redirect(&query, Limits::default()),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn enveloped_signatures_verify_with_our_verifier() {
    for (key_file, cert_file) in [
        ("idp1.key.pem", "idp1.cert.pem"),
        ("idp-ec.key.pem", "idp-ec.cert.pem"),
    ] {
        let signed = dsig::sign_enveloped(&request(), &key(key_file)).unwrap();
        let doc = xml::parse(signed.as_bytes(), Limits::default()).unwrap();
        let root = doc.root_element();
        // The Signature follows the Issuer, as the schema orders them.
        let children: Vec<&str> = root
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect();
        assert_eq!(children[..2], ["Issuer", "Signature"]);
        let verified =
            dsig::verify(&doc, root, &[common::cert(cert_file)], Policy::default()).unwrap();
        assert!(verified.is_some(), "{key_file}");
        assert!(dsig::verify(
            &doc,
            root,
            &[common::cert("idp2.cert.pem")],
            Policy::default()
        )
        .is_err());
    }
    assert!(dsig::sign_enveloped(
        &dsig::sign_enveloped(&request(), &key("idp1.key.pem")).unwrap(),
        &key("idp1.key.pem")
    )
    .is_err());
}

#[test]
fn logout_messages_round_trip() {
    let request = LogoutRequest {
        id: "_lo_1".into(),
        issue_instant: 1_767_225_600_000,
        destination: Some("https://idp.example/slo".into()),
        issuer: "https://sp.lanyard.test/saml".into(),
        name_id: "ada@acme.example".into(),
        name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
        session_indexes: vec!["_s1".into(), "_s2".into()],
        not_on_or_after: Some(1_767_225_900_000),
    };
    assert_eq!(
        LogoutRequest::parse_unverified(request.to_xml().as_bytes(), Limits::default()).unwrap(),
        request
    );
    let response = LogoutResponse {
        id: "_lr_1".into(),
        issue_instant: 1_767_225_600_000,
        destination: None,
        issuer: "https://idp.example".into(),
        in_response_to: "_lo_1".into(),
        status: STATUS_SUCCESS.into(),
    };
    assert_eq!(
        LogoutResponse::parse_unverified(response.to_xml().as_bytes(), Limits::default()).unwrap(),
        response
    );
    // Through the redirect binding, signed.
    let url = redirect_url(
        "https://sp.example/slo",
        Kind::Response,
        &response.to_xml(),
        None,
        Some(&key("idp1.key.pem")),
    );
    let msg = decode_redirect(query_of(&url), Limits::default()).unwrap();
    assert_eq!(msg.kind, Kind::Response);
    msg.verify(&[common::cert("idp1.cert.pem")], Policy::default())
        .unwrap();
    assert_eq!(
        LogoutResponse::parse_unverified(&msg.xml, Limits::default()).unwrap(),
        response
    );
    assert!(
        LogoutRequest::parse_unverified(response.to_xml().as_bytes(), Limits::default()).is_err()
    );
}
