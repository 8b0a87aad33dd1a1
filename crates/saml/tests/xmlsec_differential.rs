//! Differential test against `xmlsec1 --verify` (libxmlsec1, the reference XML-DSig
//! implementation): over the valid fixtures and signature-level attacks, this crate never
//! accepts a signature xmlsec1 rejects, and accepts every plain RSA/ECDSA fixture it accepts.
//! (We refuse more by design — XPath transforms, SHA-1 by default — never less.)
//!
//! Needs `xmlsec1` (Debian package xmlsec1); `scripts/test` installs it. Set
//! `LANYARD_SKIP_XMLSEC=1` to skip where it cannot be installed.

mod common;

use std::process::Command;

use common::Fixture;
use lanyard_saml::dsig::{self, Policy};
use lanyard_saml::xml::{self, Limits, NS_ASSERTION, NS_PROTOCOL};

fn xmlsec_available() -> bool {
    if std::env::var("LANYARD_SKIP_XMLSEC").is_ok_and(|v| v == "1") {
        eprintln!("LANYARD_SKIP_XMLSEC=1: differential test against xmlsec1 not run");
        return false;
    }
    let found = Command::new("xmlsec1")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "xmlsec1 is required (apt-get install xmlsec1), or set LANYARD_SKIP_XMLSEC=1"
    );
    true
}

/// xmlsec1's verdict on the signature inside the element with `id`, trusting `cert` only.
fn xmlsec_accepts(xml: &str, id: &str, cert: &str) -> bool {
    let dir = std::env::temp_dir().join(format!("lanyard-xmlsec-{}-{id}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{}.xml", xml.len()));
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmlsec1")
        .args(["--verify", "--enabled-key-data", "rsa,ecdsa"])
        .arg("--pubkey-cert-pem")
        .arg(common::dir().join("keys").join(cert))
        .args(["--id-attr:ID", &format!("{NS_ASSERTION}:Assertion")])
        .args(["--id-attr:ID", &format!("{NS_PROTOCOL}:Response")])
        .args(["--id-attr:ID", &format!("{NS_PROTOCOL}:AuthnRequest")])
        .args(["--node-id", id])
        .arg(&file)
        .output()
        .expect("run xmlsec1");
    let _ = std::fs::remove_file(&file);
    out.status.success()
}

/// Our verdict on the element with `id`.
fn we_accept(xml: &str, id: &str, cert: &str, policy: Policy) -> bool {
    let doc = xml::parse(xml.as_bytes(), Limits::default()).unwrap();
    let node = doc
        .descendants()
        .find(|n| n.attribute("ID") == Some(id))
        .unwrap();
    let certs = [common::cert(cert)];
    matches!(dsig::verify(&doc, node, &certs, policy), Ok(Some(_)))
}

/// The IDs of the signed elements of a fixture, Response first.
fn signed_ids(xml: &str) -> Vec<String> {
    let doc = xml::parse(xml.as_bytes(), Limits::default()).unwrap();
    doc.descendants()
        .filter(|n| xml::is(*n, NS_PROTOCOL, "Response") || xml::is(*n, NS_ASSERTION, "Assertion"))
        .filter(|n| {
            xml::children_named(*n, xml::NS_DSIG, "Signature")
                .next()
                .is_some()
        })
        .map(|n| n.attribute("ID").unwrap().to_string())
        .collect()
}

#[test]
fn never_more_permissive_than_xmlsec1() {
    if !xmlsec_available() {
        return;
    }
    // (fixture, signing certificate, whether we are expected to accept it by default)
    let cases = [
        ("okta", "idp1.cert.pem", true),
        ("entra", "idp1.cert.pem", true),
        ("generic", "idp1.cert.pem", true),
        ("ecdsa", "idp-ec.cert.pem", true),
        ("second-cert", "idp2.cert.pem", true),
        ("comment-in-nameid", "idp1.cert.pem", true),
        ("sha1", "idp1.cert.pem", false),
        ("xpath-transform", "idp1.cert.pem", false),
        ("attacker-keyinfo", "idp1.cert.pem", false),
    ];
    let mut compared = 0;
    for (name, cert, expect_ours) in cases {
        let f = Fixture::load(name);
        let mut variants = vec![("as signed", f.xml.clone())];
        variants.push(("attribute edited", f.xml.replacen(">Ada<", ">Eve<", 1)));
        variants.push((
            "name id edited",
            f.xml.replacen("ada@acme.example<", "eve@acme.example<", 1),
        ));
        for (variant, xml) in variants {
            if variant != "as signed" && xml == f.xml {
                continue;
            }
            for id in signed_ids(&xml) {
                let theirs = xmlsec_accepts(&xml, &id, cert);
                let ours = we_accept(&xml, &id, cert, Policy::default());
                assert!(
                    !ours || theirs,
                    "{name} ({variant}), element {id}: we accept what xmlsec1 rejects"
                );
                if variant == "as signed" {
                    assert_eq!(ours, expect_ours, "{name}, element {id}: our verdict");
                    if expect_ours {
                        assert!(
                            theirs,
                            "{name}, element {id}: xmlsec1 rejects a fixture we accept"
                        );
                    }
                } else {
                    assert!(
                        !ours,
                        "{name} ({variant}), element {id}: an edit was accepted"
                    );
                }
                compared += 1;
            }
        }
    }
    // SHA-1 is accepted when allowed, as by xmlsec1.
    let sha1 = Fixture::load("sha1");
    for id in signed_ids(&sha1.xml) {
        assert!(we_accept(
            &sha1.xml,
            &id,
            "idp1.cert.pem",
            Policy { allow_sha1: true }
        ));
        assert!(xmlsec_accepts(&sha1.xml, &id, "idp1.cert.pem"));
    }
    assert!(compared >= 20, "only {compared} comparisons made");
}

#[test]
fn xmlsec1_verifies_what_we_sign() {
    if !xmlsec_available() {
        return;
    }
    let request = lanyard_saml::requests::AuthnRequest {
        id: "_req_signed",
        issue_instant: 1_767_225_600_000,
        destination: "https://idp.example/sso",
        sp_entity_id: "https://sp.lanyard.test/saml",
        acs_url: "https://sp.lanyard.test/saml",
        name_id_format: None,
        force_authn: true,
    }
    .to_xml();
    for (key, cert) in [
        ("idp1.key.pem", "idp1.cert.pem"),
        ("idp-ec.key.pem", "idp-ec.cert.pem"),
    ] {
        let key = lanyard_saml::signing::SigningKey::parse(
            &std::fs::read(common::dir().join("keys").join(key)).unwrap(),
        )
        .unwrap();
        let signed = dsig::sign_enveloped(&request, &key).unwrap();
        assert!(
            xmlsec_accepts(&signed, "_req_signed", cert),
            "xmlsec1 rejects our {cert} signature:\n{signed}"
        );
        assert!(!xmlsec_accepts(
            &signed.replace("ForceAuthn=\"true\"", "ForceAuthn=\"false\""),
            "_req_signed",
            cert
        ));
    }
}
