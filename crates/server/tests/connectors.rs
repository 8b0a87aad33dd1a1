//! Provisioning connectors against the running server, on both databases: password sign-in,
//! consent, integration clients and access keys as OAuth clients, client credentials,
//! introspection, and SCIM authorized by the permissions behind each credential. Every refusal
//! the connectors' guides could meet is a request here that must not get in, with the RFC's
//! error.

mod common;

use common::browser::{field, param, redirect, Browser};
use common::{Server, TestDb};
use lanyard_store::both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const OKTA: &str = "https://system-admin.okta.com/admin/app/cpc/acme-scim/oauth/callback";
const PASSWORD: &str = "correct horse battery staple";

impl Browser<'_> {
    /// Opens the authorization request and signs in with a password: the response after the
    /// password (the code's redirect, the consent page, or a refusal), or the redirect a live
    /// session answers with at once.
    async fn sign_in(&mut self, client_id: &str, email: &str, password: &str) -> reqwest::Response {
        let query = [
            ("client_id", client_id),
            ("redirect_uri", OKTA),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "st-1"),
        ];
        let page = self.get("/auth/authorize", &query).await;
        if page.status() == StatusCode::SEE_OTHER {
            // A live session answered.
            return page;
        }
        assert_eq!(page.status(), StatusCode::OK);
        let request = field(&page.text().await.unwrap(), "request");
        let page = self
            .post(
                "/auth/login",
                &[
                    ("request", &request),
                    ("email", email),
                    ("method", "password"),
                ],
            )
            .await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("type=\"password\""), "{html}");
        self.post(
            "/auth/login/password",
            &[
                ("request", &request),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in and consents when asked; the code sent to the redirect URI.
    async fn code(&mut self, client_id: &str, email: &str) -> String {
        let mut response = self.sign_in(client_id, email, PASSWORD).await;
        if response.status() == StatusCode::OK {
            let html = response.text().await.unwrap();
            assert!(html.contains("wants to manage"), "{html}");
            let request = field(&html, "request");
            response = self
                .post(
                    "/auth/consent",
                    &[("request", &request), ("decision", "allow")],
                )
                .await;
        }
        let location = redirect(&response);
        assert!(location.starts_with(OKTA), "{location}");
        param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"))
    }
}

/// A POST to the token endpoint with `client_secret_post`.
async fn token(
    server: &Server,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut all = form.to_vec();
    all.push(("client_id", id));
    all.push(("client_secret", secret));
    let response = reqwest::Client::new()
        .post(server.url("/auth/token"))
        .form(&all)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn redeem(server: &Server, id: &str, secret: &str, code: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", OKTA),
    ];
    token(server, id, secret, &form).await
}

async fn scim(
    server: &Server,
    bearer: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let auth = format!("Bearer {bearer}");
    server
        .call(method, &format!("/scim/v2{path}"), Some(&auth), body)
        .await
}

/// An organization with an admin (the `Admin` role, a password) and an integration client
/// registered as seed 001's developer portal does; answers (client_id, client_secret).
async fn seed_001(server: &Server, org: &str) -> (String, String) {
    server.create_org(org).await;
    let (s, admin) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/{org}/users"),
            Some(json!({"user_name": format!("admin@{org}.test"), "email": format!("admin@{org}.test"),
                        "roles": ["Admin"], "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{admin}");
    let (s, client) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/{org}/oauth-clients"),
            Some(json!({
                "name": "Okta provisioning", "description": "SCIM from Okta",
                "contacts": ["it@acme.test"], "kind": "integration", "type": "confidential",
                "token_endpoint_auth_method": "client_secret_post", "redirect_uris": [OKTA],
                "scopes": ["openid"], "fedramp": false
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{client}");
    assert_eq!(client["kind"], "integration");
    assert_eq!(client["type"], "confidential");
    (
        client["client_id"].as_str().unwrap().to_string(),
        client["client_secret"].as_str().unwrap().to_string(),
    )
}

async fn integration_client_flow(db: TestDb) {
    let server = Server::start(&db).await;
    let (id, secret) = seed_001(&server, "acme").await;
    let mut browser = Browser::new(&server);
    let code = browser.code(&id, "admin@acme.test").await;
    let (s, tokens) = redeem(&server, &id, &secret, &code).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let (s, list) = scim(
        &server,
        access,
        Method::GET,
        "/Users?startIndex=1&count=2",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["totalResults"], 1);

    // Consent is remembered: the next sign-in goes straight back with a code.
    let again = browser
        .get(
            "/auth/authorize",
            &[
                ("client_id", &id),
                ("redirect_uri", OKTA),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert!(param(&redirect(&again), "code").is_some());

    // Refresh rotates; the new access token works; the old refresh token used again ends the
    // family, the new tokens with it.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (s, renewed) = token(&server, &id, &secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{renewed}");
    let new_access = renewed["access_token"].as_str().unwrap();
    assert_eq!(
        scim(&server, new_access, Method::GET, "/Users", None)
            .await
            .0,
        StatusCode::OK
    );
    let (s, reuse) = token(&server, &id, &secret, &form).await;
    assert_eq!(
        (s, reuse["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        scim(&server, new_access, Method::GET, "/Users", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "reuse of a refresh token ends every token of its grant"
    );

    // Introspection: the product's backend asks about a token of its organization.
    let code = browser.code(&id, "admin@acme.test").await;
    let (_, tokens) = redeem(&server, &id, &secret, &code).await;
    let access = tokens["access_token"].as_str().unwrap();
    let introspect = |token: String| {
        let (id, secret) = (id.clone(), secret.clone());
        let url = server.url("/auth/introspect");
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .form(&[
                    ("token", token.as_str()),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, info) = introspect(access.to_string()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], json!(id));
    assert_eq!(info["username"], "admin@acme.test");
    assert_eq!(
        introspect("lya_unknown".into()).await.1,
        json!({"active": false})
    );

    // The wrong method, the wrong secret: invalid_client.
    let basic = reqwest::Client::new()
        .post(server.url("/auth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        basic.status(),
        StatusCode::UNAUTHORIZED,
        "registered for client_secret_post"
    );
    let (s, body) = token(
        &server,
        &id,
        "lycs_wrong",
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    // Secret rotation: the old secret works through its grace period, the new one at once.
    let (s, rotated) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/acme/oauth-clients/{id}/secret"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rotated}");
    assert!(rotated["previous_secret_valid_until"].is_string());
    let new_secret = rotated["client_secret"].as_str().unwrap();
    for secret in [secret.as_str(), new_secret] {
        let code = browser.code(&id, "admin@acme.test").await;
        assert_eq!(redeem(&server, &id, secret, &code).await.0, StatusCode::OK);
    }
}
both_backends!(
    seed_001_integration_client_end_to_end,
    integration_client_flow
);

/// A user whose role holds neither `scim` nor an employees permission signs in and gets
/// tokens, but SCIM refuses them with 403 at the first request; taking a permission away
/// refuses the next request.
async fn permissions_decide(db: TestDb) {
    let server = Server::start(&db).await;
    let (id, secret) = seed_001(&server, "acme").await;
    let (s, role) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/roles",
            Some(json!({"name": "Reader", "permissions": ["employees.view"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{role}");
    for (name, roles) in [("agent", json!(["Agent"])), ("reader", json!(["Reader"]))] {
        let (s, user) = server
            .op(
                Method::POST,
                "/api/v1/orgs/acme/users",
                Some(json!({"user_name": format!("{name}@acme.test"), "roles": roles, "password": PASSWORD})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{user}");
    }
    let mut browser = Browser::new(&server);
    let code = browser.code(&id, "agent@acme.test").await;
    let (_, tokens) = redeem(&server, &id, &secret, &code).await;
    let agent = tokens["access_token"].as_str().unwrap().to_string();
    let (s, refusal) = scim(&server, &agent, Method::GET, "/Users", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{refusal}");
    assert!(
        refusal["detail"]
            .as_str()
            .unwrap()
            .contains("employees.view"),
        "{refusal}"
    );

    let mut browser = Browser::new(&server);
    let code = browser.code(&id, "reader@acme.test").await;
    let (_, tokens) = redeem(&server, &id, &secret, &code).await;
    let reader = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        scim(&server, &reader, Method::GET, "/Users", None).await.0,
        StatusCode::OK
    );
    let create = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "new@acme.test"});
    assert_eq!(
        scim(
            &server,
            &reader,
            Method::POST,
            "/Users",
            Some(create.clone())
        )
        .await
        .0,
        StatusCode::FORBIDDEN,
        "viewing is not creating"
    );
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a", "data": create}]});
    let (s, answer) = scim(&server, &reader, Method::POST, "/Bulk", Some(bulk)).await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    assert_eq!(answer["Operations"][0]["status"], "403", "{answer}");
    // An employees.edit holder may not act on an admin, who holds more.
    let (s, editor_role) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/roles",
            Some(json!({"name": "Editor", "permissions": ["employees.edit"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{editor_role}");
    let (s, _) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/users",
            Some(
                json!({"user_name": "editor@acme.test", "roles": ["Editor"], "password": PASSWORD}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut browser = Browser::new(&server);
    let code = browser.code(&id, "editor@acme.test").await;
    let (_, tokens) = redeem(&server, &id, &secret, &code).await;
    let editor = tokens["access_token"].as_str().unwrap().to_string();
    let (_, admins) = scim(
        &server,
        &editor,
        Method::GET,
        "/Users?filter=userName%20eq%20%22admin@acme.test%22",
        None,
    )
    .await;
    let admin_path = format!("/Users/{}", admins["Resources"][0]["id"].as_str().unwrap());
    let take_over = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "mine@acme.test"}]});
    let (s, refusal) = scim(
        &server,
        &editor,
        Method::PATCH,
        &admin_path,
        Some(take_over),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{refusal}");
    assert_eq!(
        scim(&server, &editor, Method::DELETE, &admin_path, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // An app's token carries no SCIM rights, whoever signed in.
    let (s, app) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/oauth-clients",
            Some(json!({"name": "Product", "redirect_uris": [OKTA], "scopes": ["openid"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    let (app_id, app_secret) = (
        app["client_id"].as_str().unwrap(),
        app["client_secret"].as_str().unwrap(),
    );
    let mut admin = Browser::new(&server);
    let code = admin.code(app_id, "admin@acme.test").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", OKTA),
    ];
    let response = reqwest::Client::new()
        .post(server.url("/auth/token"))
        .basic_auth(app_id, Some(app_secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let app_token: Value = response.json().await.unwrap();
    let (s, refusal) = scim(
        &server,
        app_token["access_token"].as_str().unwrap(),
        Method::GET,
        "/Users",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{refusal}");

    // The permission goes: the next request is refused.
    let (s, _) = server
        .op(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/roles/{}", role["id"].as_str().unwrap()),
            Some(json!({"permissions": []})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        scim(&server, &reader, Method::GET, "/Users", None).await.0,
        StatusCode::FORBIDDEN
    );
}
both_backends!(
    scim_is_authorized_by_the_callers_permissions,
    permissions_decide
);

/// An access key with Okta's redirect URI: its service account, invited and activated, signs
/// in through it; anyone else is refused; revoking the key mid-flow ends the code.
async fn access_key_client(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let (s, _) = server
        .op(Method::POST, "/api/v1/orgs/acme/roles", Some(json!({"name": "SCIM Access Key", "permissions": ["employees.create", "employees.edit"]})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, account) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/service-accounts",
            Some(json!({"user_name": "scim-key@acme.test", "email": "scim-key@acme.test", "roles": ["SCIM Access Key"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{account}");
    let account_id = account["id"].as_str().unwrap();
    let (s, key) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/acme/service-accounts/{account_id}/access-keys"),
            Some(json!({"redirect_uris": [OKTA]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let key_id = key["access_key_id"].as_str().unwrap().to_string();
    let key_secret = key["secret"].as_str().unwrap().to_string();

    // No SMTP here: the API hands the link back once.
    let (s, invitation) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/acme/users/{account_id}/invitation"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{invitation}");
    let link = invitation["activation_url"].as_str().unwrap();
    let link_token = param(link, "token").unwrap();
    let mut browser = Browser::new(&server);
    let page = browser
        .get("/auth/activate", &[("token", &link_token)])
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let done = browser
        .post(
            "/auth/activate",
            &[
                ("token", &link_token),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let used = browser
        .post(
            "/auth/activate",
            &[
                ("token", &link_token),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(used.status(), StatusCode::NOT_FOUND, "a link works once");

    // A person of the organization cannot sign in through the key.
    let (s, _) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/users",
            Some(json!({"user_name": "ada@acme.test", "roles": ["Admin"], "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut other = Browser::new(&server);
    let refused = other.sign_in(&key_id, "ada@acme.test", PASSWORD).await;
    assert_eq!(
        param(&redirect(&refused), "error").as_deref(),
        Some("access_denied")
    );

    // The service account does, and provisions with the token.
    let code = browser.code(&key_id, "scim-key@acme.test").await;
    let (s, tokens) = redeem(&server, &key_id, &key_secret, &code).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "new@acme.test", "active": true});
    let (s, created) = scim(&server, access, Method::POST, "/Users", Some(user)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]});
    let (s, patched) = scim(&server, access, Method::PATCH, &path, Some(deactivate)).await;
    assert_eq!(
        (s, &patched["active"]),
        (StatusCode::OK, &json!(false)),
        "{patched}"
    );
    // The key itself authenticates SCIM too, Basic or Bearer; and client credentials.
    assert_eq!(
        scim(
            &server,
            &format!("{key_id}.{key_secret}"),
            Method::GET,
            &path,
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let (s, cc) = token(
        &server,
        &key_id,
        &key_secret,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{cc}");
    assert!(cc.get("refresh_token").is_none());

    // Revoked mid-flow: a code issued before cannot be redeemed, tokens stop.
    let code = browser.code(&key_id, "scim-key@acme.test").await;
    let (s, _) = server
        .op(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/service-accounts/{account_id}/access-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = redeem(&server, &key_id, &key_secret, &code).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert_eq!(
        scim(&server, access, Method::GET, &path, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}
both_backends!(seed_002_access_key_as_client, access_key_client);

/// Backend clients stay out of the code flow; clients and codes do not cross organizations;
/// password guessing stops at the limit.
async fn refusals(db: TestDb) {
    let server = Server::start(&db).await;
    let (acme_id, _) = seed_001(&server, "acme").await;
    let (globex_id, globex_secret) = seed_001(&server, "globex").await;
    let (s, backend) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/oauth-clients",
            Some(json!({"name": "Sync job", "kind": "integration", "type": "backend", "scopes": ["scim"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{backend}");
    let backend_id = backend["client_id"].as_str().unwrap();
    let backend_secret = backend["client_secret"].as_str().unwrap();
    let mut browser = Browser::new(&server);
    let page = browser
        .get(
            "/auth/authorize",
            &[
                ("client_id", backend_id),
                ("redirect_uri", OKTA),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("unauthorized_client"));
    let basic = |form: Vec<(&'static str, String)>| {
        let url = server.url("/auth/token");
        let (id, secret) = (backend_id.to_string(), backend_secret.to_string());
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, body) = basic(vec![
        ("grant_type", "authorization_code".into()),
        ("code", "lyc_x".into()),
        ("redirect_uri", OKTA.into()),
    ])
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let (s, body) = basic(vec![("grant_type", "client_credentials".into())]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "scim");
    let machine = body["access_token"].as_str().unwrap();
    assert_eq!(
        scim(&server, machine, Method::GET, "/Users", None).await.0,
        StatusCode::OK
    );

    // Acme's code is no code for Globex's client; Globex's token sees Globex only.
    let code = browser.code(&acme_id, "admin@acme.test").await;
    let (s, body) = redeem(&server, &globex_id, &globex_secret, &code).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Acme's admin is nobody at Globex's client.
    let mut stranger = Browser::new(&server);
    let wrong = stranger
        .sign_in(&globex_id, "admin@acme.test", PASSWORD)
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    // Guessing: the same answer for an unknown user and a wrong password, then the limit.
    let mut guesser = Browser::new(&server);
    let unknown = guesser
        .sign_in(&acme_id, "nobody@acme.test", PASSWORD)
        .await;
    let unknown_status = unknown.status();
    let unknown_text = unknown.text().await.unwrap();
    let wrong = guesser
        .sign_in(&acme_id, "admin@acme.test", "wrong password!!")
        .await;
    assert_eq!(
        (unknown_status, wrong.status()),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    let wrong_text = wrong.text().await.unwrap();
    assert!(unknown_text.contains("The e-mail address or the password is wrong."));
    assert!(wrong_text.contains("The e-mail address or the password is wrong."));
    let mut limited = false;
    for _ in 0..12 {
        let response = guesser
            .sign_in(&acme_id, "admin@acme.test", "wrong password!!")
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "password guessing must hit the per-account limit");
    // Even the right password waits now.
    let right = guesser.sign_in(&acme_id, "admin@acme.test", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
}
both_backends!(connector_refusals, refusals);

/// Two servers on one database: a revocation, a deactivation or a permission taken away
/// through one holds at the next request through the other (nothing is cached per process).
async fn revocation_across_instances(db: TestDb) {
    let first = Server::start(&db).await;
    let (id, secret) = seed_001(&first, "acme").await;
    let second = Server::spawn(
        first.data_dir.clone(),
        first.database_url.clone(),
        first.operator_key.clone(),
        &[],
    );
    let (s, created) = first
        .op(
            Method::POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(json!({"name": "Okta"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let scim_token = created["token"].as_str().unwrap();
    let mut browser = Browser::new(&first);
    let code = browser.code(&id, "admin@acme.test").await;
    let (_, tokens) = redeem(&first, &id, &secret, &code).await;
    let access = tokens["access_token"].as_str().unwrap();
    for bearer in [scim_token, access] {
        assert_eq!(
            scim(&second, bearer, Method::GET, "/Users", None).await.0,
            StatusCode::OK
        );
    }
    // The SCIM token revoked through the first: refused at once by the second.
    let (s, _) = first
        .op(
            Method::DELETE,
            &format!(
                "/api/v1/orgs/acme/scim-tokens/{}",
                created["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        scim(&second, scim_token, Method::GET, "/Users", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // The admin's role loses its SCIM rights through the first: the second refuses next.
    let (_, roles) = first.op(Method::GET, "/api/v1/orgs/acme/roles", None).await;
    let admin_role = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Admin")
        .unwrap();
    let (s, body) = first
        .op(
            Method::PATCH,
            &format!(
                "/api/v1/orgs/acme/roles/{}",
                admin_role["id"].as_str().unwrap()
            ),
            Some(json!({"permissions": ["roles.manage"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        scim(&second, access, Method::GET, "/Users", None).await.0,
        StatusCode::FORBIDDEN
    );
    // The client revoked through the first: its tokens stop at the second.
    let (s, _) = first
        .op(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/oauth-clients/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        scim(&second, access, Method::GET, "/Users", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}
both_backends!(
    revocations_hold_on_every_instance,
    revocation_across_instances
);

/// A group change touching an admin, by a caller holding less than the admin does.
async fn group_change(
    server: &Server,
    bearer: &str,
    method: Method,
    path: &str,
    body: Value,
) -> StatusCode {
    let (s, answer) = scim(server, bearer, method, path, Some(body)).await;
    assert!(s.is_success() || s == StatusCode::FORBIDDEN, "{s} {answer}");
    s
}

fn members_op(op: &str, ids: &[&str]) -> Value {
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": op, "path": "members", "value": members}]})
}

/// Nobody hands out or touches more than they hold: a SCIM token (which acts on everyone) only
/// from a holder of every permission; no group membership of an admin changed by a lesser
/// caller; a password set by the admin API ends what the old one let in; an invitation dies
/// when its user's roles change; the identifier page shown again keeps the sign-in going.
async fn guards(db: TestDb) {
    let server = Server::start(&db).await;
    let (id, secret) = seed_001(&server, "acme").await;
    let maker = server
        .access_key_with("acme", &["tokens.manage", "scim"])
        .await;
    let (s, refusal) = server
        .call(
            Method::POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(&maker),
            Some(json!({"name": "Okta"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{refusal}");
    let (s, made) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(json!({"name": "Okta"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let full = made["token"].as_str().unwrap().to_string();

    let editor = server
        .access_key_with(
            "acme",
            &["employees.view", "employees.create", "employees.edit"],
        )
        .await;
    let editor = editor.strip_prefix("Bearer ").unwrap();
    let (_, admins) = scim(
        &server,
        editor,
        Method::GET,
        "/Users?filter=userName%20eq%20%22admin@acme.test%22",
        None,
    )
    .await;
    let admin = admins["Resources"][0]["id"].as_str().unwrap().to_string();
    let plain = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "plain@acme.test"});
    let (s, plain) = scim(&server, editor, Method::POST, "/Users", Some(plain)).await;
    assert_eq!(s, StatusCode::CREATED, "{plain}");
    let plain = plain["id"].as_str().unwrap().to_string();
    let group = |members: &[&str]| {
        let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Product admins", "members": members})
    };
    assert_eq!(
        group_change(
            &server,
            editor,
            Method::POST,
            "/Groups",
            group(&[&plain, &admin])
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let (s, made) = scim(
        &server,
        editor,
        Method::POST,
        "/Groups",
        Some(group(&[&plain])),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let path = format!("/Groups/{}", made["id"].as_str().unwrap());
    // In order: each step starts from what the one before left.
    let steps = [
        (
            editor,
            Method::PATCH,
            members_op("add", &[&admin]),
            StatusCode::FORBIDDEN,
        ),
        (
            editor,
            Method::PUT,
            group(&[&plain, &admin]),
            StatusCode::FORBIDDEN,
        ),
        (
            &full,
            Method::PATCH,
            members_op("add", &[&admin]),
            StatusCode::OK,
        ),
        (
            editor,
            Method::PATCH,
            members_op("remove", &[&admin]),
            StatusCode::FORBIDDEN,
        ),
        // The admin stays, the plain user goes.
        (editor, Method::PUT, group(&[&admin]), StatusCode::OK),
    ];
    for (n, (bearer, method, body, expected)) in steps.into_iter().enumerate() {
        let got = group_change(&server, bearer, method, &path, body).await;
        assert_eq!(got, expected, "step {n}");
    }
    assert_eq!(
        scim(&server, editor, Method::DELETE, &path, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, kept) = scim(&server, &full, Method::GET, &path, None).await;
    assert_eq!(kept["members"].as_array().map(Vec::len), Some(1), "{kept}");

    // A password set through the API ends the tokens the old one got.
    let mut browser = Browser::new(&server);
    let code = browser.code(&id, "admin@acme.test").await;
    let (_, tokens) = redeem(&server, &id, &secret, &code).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        scim(&server, &access, Method::GET, "/Users", None).await.0,
        StatusCode::OK
    );
    let (s, changed) = server
        .op(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{admin}"),
            Some(json!({"password": "another horse battery staple"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(
        scim(&server, &access, Method::GET, "/Users", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = token(
        &server,
        &id,
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the refresh token went too");

    // An invitation made for an agent does not activate the admin they became.
    let (s, agent) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/users",
            Some(json!({"user_name": "agent@acme.test", "roles": ["Agent"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{agent}");
    let agent = agent["id"].as_str().unwrap();
    let (s, invitation) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/acme/users/{agent}/invitation"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{invitation}");
    let link = param(invitation["activation_url"].as_str().unwrap(), "token").unwrap();
    let (s, _) = server
        .op(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{agent}"),
            Some(json!({"roles": ["Admin"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let page = Browser::new(&server)
        .get("/auth/activate", &[("token", &link)])
        .await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);

    // An empty address shows the first page again, and its form still continues the sign-in.
    let mut browser = Browser::new(&server);
    let query = [
        ("client_id", id.as_str()),
        ("redirect_uri", OKTA),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let first = browser.get("/auth/authorize", &query).await;
    let request = field(&first.text().await.unwrap(), "request");
    let again = browser
        .post("/auth/login", &[("request", &request), ("email", " ")])
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let request = field(&again.text().await.unwrap(), "request");
    let page = browser
        .post(
            "/auth/login",
            &[
                ("request", &request),
                ("email", "admin@acme.test"),
                ("method", "password"),
            ],
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("type=\"password\""));
}
both_backends!(nobody_hands_out_more_than_they_hold, guards);
