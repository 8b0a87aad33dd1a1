//! Each connection's own SP keys, end to end: published in the SP metadata, a signed
//! AuthnRequest that xmlsec1 verifies with the published certificate, and assertions encrypted
//! by xmlsec1 (AES-256-GCM, RSA-OAEP) to the published encryption certificate, across a
//! rotation; a connection that requires encryption refuses a plaintext assertion.

use super::*;

fn pem(b64: &str) -> String {
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

async fn sp_keys(server: &Server, path: &str) -> Vec<Value> {
    let (s, keys) = server
        .op(Method::GET, &format!("{path}/sp-keys"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{keys}");
    keys["items"].as_array().unwrap().clone()
}

/// The certificate (base64 DER) of the key with this usage and state.
fn certificate(keys: &[Value], usage: &str, state: &str) -> String {
    keys.iter()
        .find(|k| k["usage"] == usage && k["state"] == state)
        .unwrap_or_else(|| panic!("no {state} {usage} key in {keys:?}"))["certificate"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn try_rotate(server: &Server, path: &str, usage: &str, step: &str) -> (StatusCode, Value) {
    server
        .op(
            Method::POST,
            &format!("{path}/sp-keys/rotate"),
            Some(json!({ "usage": usage, "step": step })),
        )
        .await
}

async fn rotate(server: &Server, path: &str, usage: &str, step: &str) -> Vec<Value> {
    let (s, keys) = try_rotate(server, path, usage, step).await;
    assert_eq!(s, StatusCode::OK, "{keys}");
    keys["items"].as_array().unwrap().clone()
}

/// The signed Response (base64) with its assertion encrypted by xmlsec1 to `cert_b64`.
fn encrypted(signed: &str, cert_b64: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (doc, tmpl, cert, out) = (
        dir.path().join("doc.xml"),
        dir.path().join("tmpl.xml"),
        dir.path().join("cert.pem"),
        dir.path().join("out.xml"),
    );
    std::fs::write(&doc, STANDARD.decode(signed).unwrap()).unwrap();
    std::fs::write(&cert, pem(cert_b64)).unwrap();
    std::fs::write(
        &tmpl,
        "<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Type=\"http://www.w3.org/2001/04/xmlenc#Element\">\
         <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>\
         <ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><xenc:EncryptedKey>\
         <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>\
         <xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>\
         <xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>",
    )
    .unwrap();
    let run = Command::new("xmlsec1")
        .args(["--encrypt", "--session-key", "aes-256", "--pubkey-cert-pem"])
        .arg(&cert)
        .arg("--xml-data")
        .arg(&doc)
        .args(["--node-xpath", "/*/*[local-name()='Assertion']", "--output"])
        .arg(&out)
        .arg(&tmpl)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let xml = std::fs::read_to_string(&out).unwrap();
    let xml = xml
        .replacen(
            "<xenc:EncryptedData",
            "<saml:EncryptedAssertion><xenc:EncryptedData",
            1,
        )
        .replacen(
            "</xenc:EncryptedData>",
            "</xenc:EncryptedData></saml:EncryptedAssertion>",
            1,
        );
    assert!(!xml.contains("ada@acme.example"), "encrypted: {xml}");
    STANDARD.encode(xml)
}

/// One sign-in whose Response is `prepare`d from the signed one; the response to it.
async fn attempt(
    server: &Server,
    app: &App,
    prepare: impl FnOnce(String) -> String,
) -> reqwest::Response {
    let mut browser = Browser::new(server);
    let pending = browser.start(&auth_params(app, "n-1")).await;
    let signed = Assertion::new(server, &pending, "ada@acme.example").signed();
    browser.post_response(&prepare(signed)).await
}

fn signed_in(response: &reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{what}");
    assert!(redirect(response).param("code").is_some(), "{what}");
}

both_backends!(sp_keys_sign_requests_and_decrypt_across_a_rotation, keys);

async fn keys(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (app, _, scim_auth) = setup(&server, "acme").await;
    scim(
        &server,
        &scim_auth,
        Method::POST,
        "/Users",
        json!({"userName": "ada@acme.example"}),
    )
    .await;
    let (path, connection) = first_connection(&server, "acme").await;

    // Made on first use: a current signing key and a current encryption key, both in the
    // SP metadata.
    let keys = sp_keys(&server, &path).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let signing = certificate(&keys, "signing", "current");
    let encryption = certificate(&keys, "encryption", "current");
    let metadata = sp_metadata(&connection).await;
    assert!(
        metadata.contains(&signing) && metadata.contains(&encryption),
        "{metadata}"
    );
    assert!(
        metadata.contains("AuthnRequestsSigned=\"false\""),
        "{metadata}"
    );

    // Signed requests: the AuthnRequest the browser carries verifies with xmlsec1 against
    // the published signing certificate.
    let (s, view) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"sign_requests": true, "require_encrypted_assertions": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    let mut browser = Browser::new(&server);
    let page = browser.authorize(&auth_params(&app, "n-1")).await;
    let html = page.text().await.unwrap();
    let request = html
        .split("name=\"request\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let to_idp = browser
        .http
        .post(server.url("/auth/login"))
        .header(header::COOKIE, browser.cookie_header())
        .form(&[
            ("request", request),
            ("email", "ada@acme.example"),
            ("method", "sso"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = to_idp
        .split("name=\"SAMLRequest\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (req, cert) = (dir.path().join("req.xml"), dir.path().join("cert.pem"));
    std::fs::write(&req, STANDARD.decode(value).unwrap()).unwrap();
    std::fs::write(&cert, pem(&signing)).unwrap();
    let verify = |cert: &std::path::Path| {
        Command::new("xmlsec1")
            .args(["--verify", "--pubkey-cert-pem"])
            .arg(cert)
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
            ])
            .arg(&req)
            .output()
            .unwrap()
    };
    let checked = verify(&cert);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // And not with another key's certificate.
    std::fs::write(&cert, pem(&encryption)).unwrap();
    assert!(!verify(&cert).status.success());

    // Encryption required: a plaintext assertion is refused; one encrypted to the published
    // certificate signs in.
    let plain = attempt(&server, &app, |signed| signed).await;
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    let enc = encryption.clone();
    signed_in(
        &attempt(&server, &app, move |s| encrypted(&s, &enc)).await,
        "encrypted to the current key",
    );

    // Rotation: the next key is published beside the current one and decrypts at once; once
    // it is current, the previous one still decrypts; a rotation later it is gone.
    assert_eq!(
        try_rotate(&server, &path, "encryption", "promote").await.0,
        StatusCode::CONFLICT,
        "nothing to promote yet"
    );
    let keys = rotate(&server, &path, "encryption", "add_next").await;
    assert_eq!(
        try_rotate(&server, &path, "encryption", "add_next").await.0,
        StatusCode::CONFLICT,
        "a repeated step does not take the following one"
    );
    let next = certificate(&keys, "encryption", "next");
    let metadata = sp_metadata(&connection).await;
    assert!(
        metadata.contains(&next) && metadata.contains(&encryption),
        "both published"
    );
    let n = next.clone();
    signed_in(
        &attempt(&server, &app, move |s| encrypted(&s, &n)).await,
        "encrypted to the next key",
    );
    let keys = rotate(&server, &path, "encryption", "promote").await;
    assert_eq!(certificate(&keys, "encryption", "current"), next);
    assert_eq!(certificate(&keys, "encryption", "previous"), encryption);
    let old = encryption.clone();
    signed_in(
        &attempt(&server, &app, move |s| encrypted(&s, &old)).await,
        "encrypted to the previous key during the overlap",
    );
    rotate(&server, &path, "encryption", "add_next").await;
    let keys = rotate(&server, &path, "encryption", "promote").await;
    assert!(keys.iter().all(|k| k["certificate"] != json!(encryption)));
    let old = encryption.clone();
    let gone = attempt(&server, &app, move |s| encrypted(&s, &old)).await;
    assert_eq!(
        gone.status(),
        StatusCode::BAD_REQUEST,
        "a dropped key decrypts nothing"
    );

    // The content-encryption algorithm is pinned: AES-256-GCM by default; pinned to another,
    // a Response using it is refused.
    let (s, view) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"content_encryption": "aes128-gcm"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    let n = next.clone();
    let unpinned = attempt(&server, &app, move |s| encrypted(&s, &n)).await;
    assert_eq!(
        unpinned.status(),
        StatusCode::BAD_REQUEST,
        "not the pinned algorithm"
    );

    for bad in [
        json!({ "usage": "both", "step": "add_next" }),
        json!({ "usage": "signing", "step": "twice" }),
    ] {
        let (s, body) = server
            .op(Method::POST, &format!("{path}/sp-keys/rotate"), Some(bad))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (s, body) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"content_encryption": "des"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
