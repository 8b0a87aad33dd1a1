//! Seed 000 as written: the connection's Audience URI is the ACS URL `{public_url}/saml`, shared
//! by connections of several organizations, and the IdP names the organization in a signed
//! `OrganizationName` attribute. Every way one organization's IdP could reach another
//! organization (tenant confusion) is a request that must not get in.

use super::*;

async fn patch(server: &Server, path: &str, body: Value) -> Value {
    let (s, view) = server.op(Method::PATCH, path, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{view}");
    view
}

/// A Response no request asked for, to `audience`, naming `organization`, signed with `key`.
fn tile(server: &Server, audience: &str, organization: Option<&str>, key: &str) -> String {
    let pending = Pending {
        id: String::new(),
        audience: audience.to_string(),
        force_authn: false,
    };
    let mut assertion = Assertion::new(server, &pending, "ada@acme.example");
    assertion.in_response_to = None;
    assertion.organization_name = organization;
    assertion.key = key;
    assertion.signed()
}

fn refused(response: reqwest::Response, what: &str) -> reqwest::Response {
    assert!(
        response.status() == StatusCode::BAD_REQUEST || response.status() == StatusCode::FORBIDDEN,
        "{what}: {}",
        response.status()
    );
    assert!(response.headers().get(header::LOCATION).is_none(), "{what}");
    // No session (a pending sign-in's cookie may be cleared).
    assert!(
        !response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("lanyard_session=")),
        "{what}"
    );
    response
}

both_backends!(seed_000_shared_acs_with_organization_name, shared_acs);

async fn shared_acs(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let acs = server.url("/saml");
    let (acme_app, _, acme_scim) = setup(&server, "acme").await;
    let (_, _, globex_scim) = setup(&server, "globex").await;
    for auth in [&acme_scim, &globex_scim] {
        scim(
            &server,
            auth,
            Method::POST,
            "/Users",
            json!({"userName": "ada@acme.example"}),
        )
        .await;
    }
    let (acme_path, acme) = first_connection(&server, "acme").await;
    let own_entity_id = acme["sp_entity_id"].as_str().unwrap().to_string();

    // Filled in as seed 000 says: the ACS URL as the Audience URI, a bare-base64 certificate.
    let bare = std::fs::read_to_string(keys().join("idp1.cert.b64")).unwrap();
    let view = patch(
        &server,
        &acme_path,
        json!({"sp_entity_id": acs, "certificates": [bare.trim()], "allow_idp_initiated": true}),
    )
    .await;
    assert_eq!(
        (
            view["sp_entity_id"].as_str(),
            view["shared_audience"].as_bool()
        ),
        (Some(acs.as_str()), Some(true)),
        "{view}"
    );
    let metadata = sp_metadata(&view).await;
    assert!(
        metadata.contains(&format!("entityID=\"{acs}\"")),
        "{metadata}"
    );

    // SP-initiated: the AuthnRequest is issued by the ACS URL; a Response naming the
    // organization signs in; one naming another organization is refused.
    let mut browser = Browser::new(&server);
    let pending = browser.start(&auth_params(&acme_app, "n-1")).await;
    assert_eq!(pending.audience, acs);
    let mut assertion = Assertion::new(&server, &pending, "ada@acme.example");
    assertion.organization_name = Some("globex");
    let wrong = refused(
        browser.post_response(&assertion.signed()).await,
        "an SP-initiated Response naming another organization",
    );
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(wrong.text().await.unwrap().contains("OrganizationName"));
    for (attributes, what) in [
        (vec![], "no OrganizationName"),
        (
            vec![("OrganizationName", vec!["acme", "globex"])],
            "two values",
        ),
        (vec![("OrganizationName", vec!["ACME"])], "another spelling"),
    ] {
        let mut browser = Browser::new(&server);
        let pending = browser.start(&auth_params(&acme_app, "n-1")).await;
        let mut assertion = Assertion::new(&server, &pending, "ada@acme.example");
        assertion.attributes = attributes;
        let wrong = refused(browser.post_response(&assertion.signed()).await, what);
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "{what}");
    }
    let mut browser = Browser::new(&server);
    let pending = browser.start(&auth_params(&acme_app, "n-1")).await;
    let mut assertion = Assertion::new(&server, &pending, "ada@acme.example");
    assertion.organization_name = Some("acme");
    let back = redirect(&browser.post_response(&assertion.signed()).await);
    assert!(back.param("code").is_some(), "{}", back.location);

    // IdP-initiated, to an organization with a default app.
    default_app(&server, "acme").await;
    let post = |saml: String| {
        let server = &server;
        async move { Browser::new(server).post_response(&saml).await }
    };
    let named = tile(&server, &acs, Some("acme"), "idp1");
    let back = redirect(&post(named.clone()).await);
    assert!(back.location.starts_with("http://127.0.0.1:9/login?"));
    refused(post(named).await, "the same tile Response again");
    // Without OrganizationName nothing is chosen: the Issuer alone never picks an
    // organization (any organization may register any IdP's public certificate).
    refused(
        post(tile(&server, &acs, None, "idp1")).await,
        "no OrganizationName",
    );

    // Tenant confusion: globex does not share the audience, so nothing routes there; another
    // key naming acme fails acme's certificates; an unknown organization names nothing; the
    // connection's own entity ID no longer answers.
    refused(
        post(tile(&server, &acs, Some("globex"), "idp1")).await,
        "naming an organization that does not share the audience",
    );
    refused(
        post(tile(&server, &acs, Some("acme"), "attacker")).await,
        "another signer naming acme",
    );
    refused(
        post(tile(&server, &acs, Some("nobody"), "idp1")).await,
        "naming no organization",
    );
    refused(
        post(tile(&server, &own_entity_id, Some("acme"), "idp1")).await,
        "the connection's own entity ID while it shares the ACS URL",
    );

    // Globex shares the audience too, trusting another IdP key under the same Issuer. The
    // IdP acme trusts cannot reach globex by naming it, nor acme's by naming acme with
    // globex's key.
    let (globex_path, _) = first_connection(&server, "globex").await;
    let idp2 = std::fs::read_to_string(keys().join("idp2.cert.pem")).unwrap();
    patch(
        &server,
        &globex_path,
        json!({"sp_entity_id": acs, "certificates": [idp2], "allow_idp_initiated": true}),
    )
    .await;
    refused(
        post(tile(&server, &acs, Some("globex"), "idp1")).await,
        "acme's IdP naming globex, whose connection does not trust it",
    );
    refused(
        post(tile(&server, &acs, Some("acme"), "idp2")).await,
        "globex's IdP naming acme",
    );

    // What was refused after globex's connection was chosen is in globex's log, not acme's.
    let failures = |org: &'static str| {
        let server = &server;
        async move {
            let path = format!("/api/v1/orgs/{org}/audit?action=sso.sign_in_failed");
            server.op(Method::GET, &path, None).await.1["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(failures("globex").await, 1);

    // Two connections of one organization sharing the audience for one IdP could not be told
    // apart: refused. The own entity ID comes back when asked for.
    let cert = std::fs::read_to_string(keys().join("idp3.cert.pem")).unwrap();
    let (s, twin) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/sso-connections",
            Some(json!({"name": "Twin", "idp_entity_id": IDP_ISSUER, "sso_url": "http://127.0.0.1:9/idp/sso",
                        "certificates": [cert], "sp_entity_id": acs})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{twin}");
    assert!(twin.to_string().contains("already shares"), "{twin}");
    let (s, body) = server
        .op(
            Method::PATCH,
            &acme_path,
            Some(json!({ "sp_entity_id": format!("{acs}#globex") })),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "under the ACS URL: {body}"
    );
    let view = patch(&server, &acme_path, json!({"sp_entity_id": own_entity_id})).await;
    assert_eq!(view["shared_audience"], json!(false));
    assert_eq!(view["sp_entity_id"], json!(own_entity_id));
    redirect(&post(tile(&server, &own_entity_id, None, "idp1")).await);
}

both_backends!(
    connection_fields_certificates_once_skew_bounded_metadata_imported,
    duplicate_certificate
);

async fn duplicate_certificate(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let pem = std::fs::read_to_string(keys().join("idp1.cert.pem")).unwrap();
    let bare = std::fs::read_to_string(keys().join("idp1.cert.b64")).unwrap();
    let (s, body) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/sso-connections",
            Some(json!({"name": "Okta", "idp_entity_id": IDP_ISSUER, "sso_url": "http://127.0.0.1:9/idp/sso",
                        "certificates": [pem, bare.trim()]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("certificates[1]"), "{body}");
    assert!(body.to_string().contains("already in the list"), "{body}");
    let (s, created) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/sso-connections",
            Some(json!({"name": "Okta", "idp_entity_id": IDP_ISSUER, "sso_url": "http://127.0.0.1:9/idp/sso",
                        "certificates": [pem]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["clock_skew_seconds"], json!(180), "the default");
    let path = format!(
        "/api/v1/orgs/acme/sso-connections/{}",
        created["id"].as_str().unwrap()
    );
    for (skew, status) in [
        (601, StatusCode::UNPROCESSABLE_ENTITY),
        (-1, StatusCode::UNPROCESSABLE_ENTITY),
        (600, StatusCode::OK),
    ] {
        let (s, body) = server
            .op(
                Method::PATCH,
                &path,
                Some(json!({ "clock_skew_seconds": skew })),
            )
            .await;
        assert_eq!(s, status, "{skew}: {body}");
    }

    // The IdP's metadata fills in what it knows; a field given too wins; without either,
    // the answer names what is missing.
    let metadata = std::fs::read_to_string(keys().join("../metadata/okta.xml")).unwrap();
    let (s, imported) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/sso-connections",
            Some(json!({"name": "From metadata", "idp_metadata": metadata,
                        "sso_url": "https://acme.okta.com/explicit"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{imported}");
    assert_eq!(imported["idp_entity_id"], "http://www.okta.com/exk1fixture");
    assert_eq!(imported["sso_url"], "https://acme.okta.com/explicit");
    assert_eq!(
        imported["endpoint_compression"], true,
        "the Redirect binding"
    );
    assert_eq!(imported["certificates"].as_array().unwrap().len(), 1);
    let (s, missing) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/sso-connections",
            Some(json!({"name": "Nothing", "sso_url": "https://idp.example/sso"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{missing}");
    assert!(
        missing.to_string().contains("idp_entity_id is required"),
        "{missing}"
    );
    let (s, broken) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/sso-connections",
            Some(json!({"name": "Broken", "idp_metadata": "<not metadata/>"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{broken}");
    assert!(broken.to_string().contains("idp_metadata"), "{broken}");
}
