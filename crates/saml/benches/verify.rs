//! Parse + verify + validate an Okta-shaped Response (two RSA-2048 signatures: Response and
//! Assertion), next to one raw RSA-2048 verification with the key parsed once, measured in the
//! same run. `scripts/bench-saml` prints the ratio.

use std::path::Path;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use lanyard_saml::c14n::{canonicalize, Options};
use lanyard_saml::certs::{Certificate, PublicKey};
use lanyard_saml::dsig::Policy;
use lanyard_saml::response::{validate, Connection, Expected, DEFAULT_CLOCK_SKEW_MS};
use lanyard_saml::xml::{self, Limits, NS_DSIG};

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

fn bench(c: &mut Criterion) {
    let xml_text = std::fs::read_to_string(fixtures().join("okta/response.xml")).unwrap();
    let cert =
        Certificate::parse(&std::fs::read(fixtures().join("keys/idp1.cert.pem")).unwrap()).unwrap();
    let certs = [cert.clone()];
    let connection = Connection {
        sp_entity_id: "https://sp.lanyard.test/saml",
        acs_url: "https://sp.lanyard.test/saml",
        idp_issuer: "http://www.okta.com/exk1fixture",
        certificates: &certs,
        policy: Policy::default(),
        allow_idp_initiated: false,
        allow_expired_certificate: false,
        clock_skew_ms: DEFAULT_CLOCK_SKEW_MS,
        limits: Limits::default(),
        decryption_keys: &[],
        require_encryption: false,
        content_encryption: None,
    };
    let now = lanyard_saml::time::parse("2026-01-01T00:01:00Z", "now").unwrap();
    validate(
        xml_text.as_bytes(),
        &connection,
        Expected::Request("_req_fixture_1"),
        now,
    )
    .unwrap();

    // The reference: the assertion's own RSA-2048 signature, verified with a pre-parsed key.
    let doc = xml::parse(xml_text.as_bytes(), Limits::default()).unwrap();
    let signed_info = doc
        .descendants()
        .rfind(|n| xml::is(*n, NS_DSIG, "SignedInfo"))
        .unwrap();
    let message = canonicalize(&doc, signed_info, &Options::default());
    let value = doc
        .descendants()
        .rfind(|n| xml::is(*n, NS_DSIG, "SignatureValue"))
        .unwrap();
    let signature = STANDARD
        .decode(value.text().unwrap().split_whitespace().collect::<String>())
        .unwrap();
    let PublicKey::Rsa(key) = &cert.public_key else {
        panic!("RSA fixture")
    };
    let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key).unwrap();
    parsed.verify_sig(&message, &signature).unwrap();

    let assertion = doc
        .descendants()
        .find(|n| xml::is(*n, xml::NS_ASSERTION, "Assertion"))
        .unwrap();
    c.bench_function("part_parse", |b| {
        b.iter(|| {
            xml::parse(xml_text.as_bytes(), Limits::default())
                .unwrap()
                .root_element()
                .id()
        })
    });
    c.bench_function("part_c14n_assertion", |b| {
        b.iter(|| canonicalize(&doc, assertion, &Options::default()).len())
    });
    c.bench_function("part_verify_assertion", |b| {
        b.iter(|| {
            lanyard_saml::dsig::verify(&doc, assertion, &certs, Policy::default())
                .unwrap()
                .is_some()
        })
    });
    let unparsed =
        aws_lc_rs::signature::UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.clone());
    c.bench_function("part_unparsed_rsa_verify", |b| {
        b.iter(|| unparsed.verify(&message, &signature).unwrap())
    });
    c.bench_function("raw_rsa2048_verify", |b| {
        b.iter(|| parsed.verify_sig(&message, &signature).unwrap())
    });
    let entra = std::fs::read_to_string(fixtures().join("entra/response.xml")).unwrap();
    let mut entra_connection = connection.clone();
    entra_connection.idp_issuer = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/";
    validate(
        entra.as_bytes(),
        &entra_connection,
        Expected::Request("_req_fixture_1"),
        now,
    )
    .unwrap();
    c.bench_function("entra_response_validate", |b| {
        b.iter(|| {
            validate(
                entra.as_bytes(),
                &entra_connection,
                Expected::Request("_req_fixture_1"),
                now,
            )
            .unwrap()
        })
    });
    c.bench_function("okta_response_validate", |b| {
        b.iter(|| {
            validate(
                xml_text.as_bytes(),
                &connection,
                Expected::Request("_req_fixture_1"),
                now,
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
