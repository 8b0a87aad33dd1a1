//! Sign-in traces: the reference on a user's error page finds, through the admin API, the
//! failure's reason, the signature that failed and what the Response said of itself.

use super::*;

/// The reference an error page shows.
fn reference(page: &str) -> String {
    page.split("<code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no reference in {page}"))
        .to_string()
}

both_backends!(the_error_page_reference_finds_its_trace, traces);

async fn traces(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (app, _, _) = setup(&server, "acme").await;
    let (path, _) = first_connection(&server, "acme").await;
    let trace = |reference: String| {
        let server = &server;
        let path = path.clone();
        async move {
            let (s, found) = server
                .op(
                    Method::GET,
                    &format!("{path}/sign-in-failures?reference={reference}"),
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{found}");
            assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
            found["items"][0].clone()
        }
    };

    // Signed by a key the connection does not trust.
    let mut browser = Browser::new(&server);
    let pending = browser.start(&auth_params(&app, "n-1")).await;
    let mut forged = Assertion::new(&server, &pending, "ada@acme.example");
    forged.key = "attacker";
    let refused = browser.post_response(&forged.signed()).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let found = trace(reference(&refused.text().await.unwrap())).await;
    assert_eq!(found["signature_failed"], "unknown signer", "{found}");
    assert_eq!(found["unverified"]["issuer"], IDP_ISSUER, "{found}");
    assert_eq!(found["unverified"]["name_id"], "ada@acme.example");
    assert_eq!(found["unverified"]["audience"], json!(pending.audience));
    assert_eq!(
        found["unverified"]["destination"],
        json!(server.url("/saml"))
    );
    assert_eq!(found["unverified"]["in_response_to"], json!(pending.id));

    // Signed, then changed: the trace says which signature no longer matches.
    let mut browser = Browser::new(&server);
    let pending = browser.start(&auth_params(&app, "n-1")).await;
    let signed = Assertion::new(&server, &pending, "ada@acme.example").signed();
    let xml = String::from_utf8(STANDARD.decode(signed).unwrap()).unwrap();
    let edited = xml.replacen(">ada@acme.example<", ">eve@acme.example<", 1);
    assert_ne!(edited, xml);
    let refused = browser.post_response(&STANDARD.encode(edited)).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let found = trace(reference(&refused.text().await.unwrap())).await;
    assert_eq!(found["signature_failed"], "Assertion", "{found}");
    assert_eq!(found["unverified"]["name_id"], "eve@acme.example");

    // Without a credential, no traces; with one, every recent failure, newest first.
    let (s, _) = server
        .call(
            Method::GET,
            &format!("{path}/sign-in-failures"),
            Some("Bearer not-a-key"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, all) = server
        .op(Method::GET, &format!("{path}/sign-in-failures"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
}
