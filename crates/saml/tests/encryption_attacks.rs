//! The encrypted path gives an attacker no way in: our certificate is public, so anyone can
//! encrypt to it, and a tampered ciphertext must not act as an oracle.

mod common;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA1_MGF1SHA1};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::Fixture;
use lanyard_saml::response;
use lanyard_saml::xml::{self, Limits, NS_ASSERTION};
use lanyard_saml::Error;
use x509_parser::prelude::*;

/// Encrypts `assertion` to the SP's encryption certificate as an IdP would (AES-256-GCM,
/// RSA-OAEP-MGF1P), returning the `EncryptedAssertion` element.
fn encrypt_to_sp(assertion: &str) -> String {
    let der = std::fs::read(common::dir().join("keys/sp-enc.cert.der")).unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let public = PublicEncryptingKey::from_der(cert.public_key().raw).unwrap();
    let oaep = OaepPublicEncryptingKey::new(public).unwrap();
    let content_key = [7u8; 32];
    let mut wrapped = vec![0u8; oaep.ciphertext_size()];
    let wrapped = oaep
        .encrypt(&OAEP_SHA1_MGF1SHA1, &content_key, &mut wrapped, None)
        .unwrap()
        .to_vec();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &content_key).unwrap());
    let iv = [9u8; 12];
    let mut body = assertion.as_bytes().to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut body)
        .unwrap();
    let mut data = iv.to_vec();
    data.extend_from_slice(&body);
    format!(
        "<saml2:EncryptedAssertion xmlns:saml2=\"{NS_ASSERTION}\"><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Type=\"http://www.w3.org/2001/04/xmlenc#Element\">\
         <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>\
         <ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>\
         <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>\
         <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml2:EncryptedAssertion>",
        STANDARD.encode(wrapped),
        STANDARD.encode(data)
    )
}

fn assertion_range(xml_text: &str) -> std::ops::Range<usize> {
    let doc = xml::parse(xml_text.as_bytes(), Limits::default()).unwrap();
    let node = doc
        .descendants()
        .find(|n| xml::is(*n, NS_ASSERTION, "Assertion"))
        .unwrap();
    node.range()
}

fn run(f: &Fixture, text: &str) -> Result<response::Identity, Error> {
    response::validate(text.as_bytes(), &f.connection(), f.expected(), f.now_ms())
}

#[test]
fn our_encryption_helper_matches_what_idps_send() {
    // Control: a correctly signed assertion, encrypted by the helper, is accepted.
    let mut f = Fixture::load("encrypted-gcm");
    let entra = Fixture::load("okta");
    let r = assertion_range(&entra.xml);
    let mut assertion = entra.xml[r.clone()].to_string();
    // The assertion must carry its own namespace declarations once lifted out of the Response.
    if !assertion.contains("xmlns:saml2=") {
        assertion = assertion.replacen(
            "<saml2:Assertion",
            &format!("<saml2:Assertion xmlns:saml2=\"{NS_ASSERTION}\""),
            1,
        );
    }
    let text = format!(
        "{}{}{}",
        &entra.xml[..r.start],
        encrypt_to_sp(&assertion),
        &entra.xml[r.end..]
    );
    f.xml = text;
    // The Okta response is also signed over its (now replaced) content: strip that signature.
    let mut stripped = f.xml.clone();
    let doc = xml::parse(stripped.as_bytes(), Limits::default()).unwrap();
    let sig = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name(("http://www.w3.org/2000/09/xmldsig#", "Signature")))
        .unwrap()
        .range();
    drop(doc);
    stripped.replace_range(sig, "");
    let id = run(&f, &stripped).expect("an IdP-signed assertion encrypted to us");
    assert_eq!(id.name_id, "ada@acme.example");
}

#[test]
fn an_unsigned_assertion_encrypted_by_an_attacker_is_refused() {
    let f = Fixture::load("encrypted-gcm");
    let unsigned = Fixture::load("unsigned");
    let r = assertion_range(&unsigned.xml);
    let mut assertion = unsigned.xml[r.clone()].replacen("ada@acme.example", "eve@acme.example", 1);
    if !assertion.contains("xmlns:saml2=") {
        assertion = assertion.replacen(
            "<saml2:Assertion",
            &format!("<saml2:Assertion xmlns:saml2=\"{NS_ASSERTION}\""),
            1,
        );
    }
    let attack = format!(
        "{}{}{}",
        &unsigned.xml[..r.start],
        encrypt_to_sp(&assertion),
        &unsigned.xml[r.end..]
    );
    assert_eq!(run(&f, &attack).unwrap_err(), Error::Decryption);
    // Garbage plaintext and a well-formed non-assertion look exactly the same.
    for plaintext in [
        "not xml at all",
        "<x/>",
        "<saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
    ] {
        let attack = format!(
            "{}{}{}",
            &unsigned.xml[..r.start],
            encrypt_to_sp(plaintext),
            &unsigned.xml[r.end..]
        );
        assert_eq!(
            run(&f, &attack).unwrap_err(),
            Error::Decryption,
            "{plaintext}"
        );
    }
}

#[test]
fn tampered_ciphertexts_all_fail_the_same_way() {
    for name in ["encrypted-gcm", "encrypted-cbc"] {
        let f = Fixture::load(name);
        let doc = xml::parse(f.xml.as_bytes(), Limits::default()).unwrap();
        let values: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name(("http://www.w3.org/2001/04/xmlenc#", "CipherValue")))
            .map(|n| n.range())
            .collect();
        drop(doc);
        for range in values {
            let text = &f.xml[range.clone()];
            // Flip one base64 character near the end of each CipherValue (padding, tag, key).
            let at = range.start + text.rfind('<').unwrap() - 4;
            let mut attack = f.xml.clone();
            let c = attack.as_bytes()[at];
            let flipped = if c == b'A' { "B" } else { "A" };
            attack.replace_range(at..at + 1, flipped);
            assert_eq!(
                run(&f, &attack).unwrap_err(),
                Error::Decryption,
                "{name} at {at}"
            );
        }
    }
}

#[test]
fn rsa_1_5_and_unknown_algorithms_are_refused() {
    let f = Fixture::load("encrypted-gcm");
    let attack = f.xml.replacen(
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
        "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
        1,
    );
    assert!(matches!(
        run(&f, &attack),
        Err(Error::AlgorithmNotAllowed(_))
    ));
    let attack = f.xml.replacen(
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
        1,
    );
    assert!(matches!(
        run(&f, &attack),
        Err(Error::AlgorithmNotAllowed(_))
    ));
}

#[test]
fn without_the_sp_key_nothing_decrypts() {
    let mut f = Fixture::load("encrypted-gcm");
    f.decryption_keys.clear();
    assert_eq!(run(&f, &f.xml.clone()).unwrap_err(), Error::Decryption);
}

#[test]
fn a_signed_response_vouches_for_its_encrypted_assertion_but_does_not_call_it_signed() {
    // An IdP that signs the Response and encrypts an unsigned assertion: the Response signature
    // covers the ciphertext, so the identity is accepted — and reported as response-signed only.
    let f = Fixture::load("encrypted-gcm");
    let unsigned = Fixture::load("unsigned");
    let r = assertion_range(&unsigned.xml);
    let assertion = unsigned.xml[r.clone()].to_string();
    let body = format!(
        "{}{}{}",
        &unsigned.xml[..r.start],
        encrypt_to_sp(&assertion),
        &unsigned.xml[r.end..]
    );
    let body = body.trim_start_matches(|c| c != '<');
    let body = body
        .strip_prefix("<?xml")
        .map(|b| &b[b.find("?>").unwrap() + 2..])
        .unwrap_or(body);
    let key = lanyard_saml::signing::SigningKey::parse(
        &std::fs::read(common::dir().join("keys/idp1.key.pem")).unwrap(),
    )
    .unwrap();
    let signed = lanyard_saml::dsig::sign_enveloped(body, &key).unwrap();
    let id = run(&f, &signed).expect("accepted through the Response signature");
    assert_eq!(id.name_id, "ada@acme.example");
    assert!(id.response_signed);
    assert!(
        !id.assertion_signed,
        "the assertion carries no signature of its own"
    );
    // Without the Response signature the same ciphertext proves nothing.
    assert_eq!(run(&f, body).unwrap_err(), Error::Decryption);
}

#[test]
fn a_connection_that_requires_encryption_refuses_a_plaintext_assertion() {
    // A correctly signed plaintext Response…
    let f = Fixture::load("okta");
    let mut c = f.connection();
    assert!(response::validate(f.xml.as_bytes(), &c, f.expected(), f.now_ms()).is_ok());
    // …is refused once the connection requires encryption, and an encrypted one still passes.
    c.require_encryption = true;
    assert_eq!(
        response::validate(f.xml.as_bytes(), &c, f.expected(), f.now_ms()).unwrap_err(),
        Error::NotEncrypted
    );
    let e = Fixture::load("encrypted-gcm");
    let mut c = e.connection();
    c.require_encryption = true;
    assert!(response::validate(e.xml.as_bytes(), &c, e.expected(), e.now_ms()).is_ok());
}
