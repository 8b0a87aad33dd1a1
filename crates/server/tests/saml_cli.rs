//! `lanyard saml verify` on saved responses, as support staff would run it.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../saml/tests/fixtures")
}

fn verify(args: &[&str]) -> (bool, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args([
            "--json",
            "saml",
            "verify",
            "--sp-entity-id",
            "https://sp.lanyard.test/saml",
        ])
        .args(args)
        .args(if args.contains(&"--now") {
            vec![]
        } else {
            vec!["--now", "2026-01-01T00:01:00Z"]
        })
        .env_remove("LANYARD_DATABASE_URL")
        .env("LANYARD_DATA_DIR", "/nonexistent/never-created")
        .output()
        .unwrap();
    let body = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), body)
}

#[test]
fn accepts_a_base64_form_value_with_idp_metadata() {
    let f = fixtures();
    let (ok, body) = verify(&[
        "--response",
        f.join("okta/response.b64").to_str().unwrap(),
        "--idp-metadata",
        f.join("metadata/okta.xml").to_str().unwrap(),
    ]);
    assert!(ok, "{body}");
    assert_eq!(body["identity"]["name_id"], "ada@acme.example");
    assert_eq!(
        body["identity"]["attributes"][4]["values"],
        serde_json::json!(["Engineering", "Admins"])
    );
    assert!(
        !std::path::Path::new("/nonexistent/never-created").exists(),
        "no data directory is made"
    );
}

#[test]
fn decrypts_with_the_sp_key_and_reads_raw_xml() {
    let f = fixtures();
    let (ok, body) = verify(&[
        "--response",
        f.join("encrypted-gcm/response.xml").to_str().unwrap(),
        "--cert",
        f.join("keys/idp1.cert.b64").to_str().unwrap(),
        "--idp-issuer",
        "http://www.okta.com/exk1fixture",
        "--decryption-key",
        f.join("keys/sp-enc.key.pem").to_str().unwrap(),
    ]);
    assert!(ok, "{body}");
    assert_eq!(body["identity"]["session_index"], "_session_fixture_1");
}

#[test]
fn names_the_exact_failure() {
    let f = fixtures();
    let (ok, body) = verify(&[
        "--response",
        f.join("entra/response.xml").to_str().unwrap(),
        "--cert",
        f.join("keys/idp2.cert.pem").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(body["accepted"], false);
    assert_eq!(body["error"]["kind"], "UnknownSigner");
    let (ok, body) = verify(&[
        "--response",
        f.join("entra/response.xml").to_str().unwrap(),
        "--cert",
        f.join("keys/idp1.cert.pem").to_str().unwrap(),
        "--now",
        "2026-02-01T00:00:00Z",
    ]);
    assert!(!ok);
    assert_eq!(body["error"]["kind"], "Expired", "{body}");
}

#[test]
fn lists_every_failure_with_hints_and_what_the_response_says() {
    let f = fixtures();
    let (ok, body) = verify(&[
        "--response",
        f.join("entra/response.xml").to_str().unwrap(),
        "--cert",
        f.join("keys/idp1.cert.pem").to_str().unwrap(),
        "--acs-url",
        "https://elsewhere.test/saml",
        "--now",
        "2026-02-01T00:00:00Z",
    ]);
    assert!(!ok);
    let kinds: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"Mismatch"), "{body}");
    assert!(kinds.contains(&"Expired"), "{body}");
    let expired = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "Expired")
        .unwrap();
    assert!(
        expired["hint"].as_str().unwrap().contains("--now "),
        "{body}"
    );
    // With those relaxed, the signature verifies: the identity is shown for the engineer.
    assert!(body["identity"]["name_id"].as_str().is_some(), "{body}");
}

#[test]
fn says_which_signature_was_changed() {
    let f = fixtures();
    let edited = std::fs::read_to_string(f.join("entra/response.xml"))
        .unwrap()
        .replacen(">Lovelace<", ">Lovelacf<", 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.xml");
    std::fs::write(&path, edited).unwrap();
    let (ok, body) = verify(&[
        "--response",
        path.to_str().unwrap(),
        "--cert",
        f.join("keys/idp1.cert.pem").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(body["error"]["kind"], "DigestMismatch", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Assertion's signature"),
        "{body}"
    );
    assert!(
        body.get("identity").is_none(),
        "nothing past a broken signature"
    );
}

#[test]
fn another_request_id_is_met_with_a_hint_and_the_acs_comes_from_the_destination() {
    let f = fixtures();
    let out = Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args([
            "saml",
            "verify",
            "--sp-entity-id",
            "https://sp.lanyard.test/saml",
        ])
        .arg("--response")
        .arg(f.join("okta/response.b64"))
        .arg("--idp-metadata")
        .arg(f.join("metadata/okta.xml"))
        .args([
            "--in-response-to",
            "_some_other_request",
            "--now",
            "2026-01-01T00:01:00Z",
        ])
        .env_remove("LANYARD_DATABASE_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.starts_with("REFUSED:"), "{text}");
    assert!(text.contains("hint: it answers request"), "{text}");
    assert!(
        text.contains("taken from the response's Destination"),
        "{text}"
    );
    assert!(text.contains("with those checks relaxed"), "{text}");
    assert!(
        text.contains("attribute "),
        "attributes in text mode: {text}"
    );
}
