//! Just-in-time provisioning: with the organization's setting off, someone the organization
//! does not have is turned away with a page saying who to ask; with it on, a verified assertion
//! makes them, as SCIM would (default provisioning role, groups by name, a provisioning event),
//! from the attributes the connection's mapping points at.

use super::*;

/// One SP-initiated sign-in of `name_id` with `attributes`; the response to the Response.
async fn attempt(
    server: &Server,
    app: &App,
    name_id: &str,
    attributes: Vec<(&str, Vec<&str>)>,
) -> reqwest::Response {
    let mut browser = Browser::new(server);
    let pending = browser.start(&auth_params(app, "n-1")).await;
    let mut assertion = Assertion::new(server, &pending, name_id);
    assertion.attributes = attributes;
    browser.post_response(&assertion.signed()).await
}

async fn users_named(server: &Server, scim_auth: &str, user_name: &str) -> Value {
    let filter = format!("userName eq \"{user_name}\"");
    let (s, list) = server
        .call(
            Method::GET,
            &format!(
                "/scim/v2/Users?filter={}",
                percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC)
            ),
            Some(scim_auth),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list
}

both_backends!(just_in_time_provisioning_on_and_off, jit);

async fn jit(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (app, _, scim_auth) = setup(&server, "acme").await;
    let engineering = scim(
        &server,
        &scim_auth,
        Method::POST,
        "/Groups",
        json!({"displayName": "Engineering"}),
    )
    .await;
    let details = || {
        vec![
            ("firstName", vec!["Grace"]),
            ("lastName", vec!["Hopper"]),
            ("groups", vec!["engineering", "No Such Group"]),
        ]
    };

    // Off (the default): turned away, told who to ask, and nothing made.
    let refused = attempt(&server, &app, "grace@acme.example", details()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let page = refused.text().await.unwrap();
    assert!(page.contains("just-in-time provisioning"), "{page}");
    assert_eq!(
        users_named(&server, &scim_auth, "grace@acme.example").await["totalResults"],
        json!(0)
    );

    // On, with groups read from the attribute the mapping names: the verified assertion makes
    // her, and the sign-in completes.
    let (path, _) = first_connection(&server, "acme").await;
    let (s, view) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"attribute_mapping": {"groups": "groups"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    let (s, org) = server
        .op(
            Method::PATCH,
            "/api/v1/orgs/acme",
            Some(json!({"settings": {"jit_provisioning": true}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{org}");
    let signed_in = attempt(&server, &app, "grace@acme.example", details()).await;
    let back = redirect(&signed_in);
    let code = back.param("code").expect("a code").to_string();
    let (s, tokens) = token(&server, &app, &redeem(&code)).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let claims = verify_id_token(&server, tokens["id_token"].as_str().unwrap(), &app.id).await;
    let list = users_named(&server, &scim_auth, "grace@acme.example").await;
    assert_eq!(list["totalResults"], json!(1), "{list}");
    let grace = &list["Resources"][0];
    assert_eq!(claims["sub"], grace["id"]);
    assert_eq!(grace["name"]["givenName"], "Grace");
    assert_eq!(grace["name"]["familyName"], "Hopper");
    assert_eq!(grace["groups"][0]["value"], engineering["id"], "{grace}");
    assert_eq!(grace["groups"].as_array().unwrap().len(), 1, "{grace}");
    let (_, user) = server
        .op(
            Method::GET,
            &format!("/api/v1/orgs/acme/users/{}", grace["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(user["roles"], json!(["Agent"]), "{user}");
    let (_, events) = server
        .op(Method::GET, "/api/v1/orgs/acme/events", None)
        .await;
    // The product hears of her as of any provisioned user, and of her group membership.
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "user.created" && e["resource_id"] == grace["id"]),
        "{events}"
    );
    // Her second sign-in finds her; nobody is made twice.
    redirect(&attempt(&server, &app, "grace@acme.example", details()).await);
    assert_eq!(
        users_named(&server, &scim_auth, "grace@acme.example").await["totalResults"],
        json!(1)
    );

    // A mapping names the attribute the e-mail comes from; without it, nobody is made and
    // the page says the mapping needs looking at.
    let (s, view) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"attribute_mapping": {"email": "upn", "given_name": "fn"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(
        view["attribute_mapping"],
        json!({"email": "upn", "given_name": "fn"})
    );
    let (s, bad) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"attribute_mapping": {"surname": "x"}})),
        )
        .await;
    assert!(s.is_client_error(), "{s}: {bad}");
    let missing = attempt(&server, &app, "opaque-id-123", vec![]).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(missing.text().await.unwrap().contains("attribute mapping"));
    // The mapped attribute (one no IdP sends by default) both makes him and finds him again;
    // an `email` attribute beside it is not what he is known by.
    let linus_says = || {
        vec![
            ("upn", vec!["linus@acme.example"]),
            ("fn", vec!["Linus"]),
            ("email", vec!["grace@acme.example"]),
        ]
    };
    for _ in 0..2 {
        let mapped = attempt(&server, &app, "opaque-id-456", linus_says()).await;
        let back = redirect(&mapped);
        let code = back.param("code").expect("a code").to_string();
        let (s, tokens) = token(&server, &app, &redeem(&code)).await;
        assert_eq!(s, StatusCode::OK, "{tokens}");
        let claims = verify_id_token(&server, tokens["id_token"].as_str().unwrap(), &app.id).await;
        assert_eq!(claims["email"], "linus@acme.example", "{claims}");
    }
    let linus = users_named(&server, &scim_auth, "linus@acme.example").await;
    assert_eq!(linus["totalResults"], json!(1), "{linus}");
    assert_eq!(
        linus["Resources"][0]["name"]["givenName"], "Linus",
        "{linus}"
    );
}
