//! The admin console against the running server, on both databases, speaking HTTP as a browser
//! would (the walk in a real browser is `scripts/console-check`): signing in through Lanyard's
//! own sign-in, what ends a console session, the operator's key, CSRF, languages, and the API
//! additions the console reads (user search, audit filters).

mod common;

use common::browser::{field, param, redirect, Browser};
use common::{Server, TestDb};
use lanyard_store::both_backends;
use reqwest::{header, Method, StatusCode};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn org_with_admin(server: &Server) -> String {
    server.create_org("acme").await;
    let (status, _) = server
        .op(
            Method::PATCH,
            "/api/v1/orgs/acme",
            Some(json!({ "domains": ["acme.test"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, user) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/users",
            Some(
                json!({ "user_name": "admin@acme.test", "email": "admin@acme.test",
                         "roles": ["Admin"], "password": PASSWORD }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user["id"].as_str().unwrap().to_string()
}

/// The path and query of a redirect's location, to follow it on the test server.
fn path_of(location: &str) -> String {
    let url = reqwest::Url::parse(location)
        .unwrap_or_else(|_| reqwest::Url::parse(&format!("http://x{location}")).unwrap());
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Starts a console sign-in for `who` (an address, or the organization's short name) and signs
/// in as the admin with the password; the callback's location.
async fn sign_in_to_console(browser: &mut Browser<'_>, who: &str) -> String {
    let start = browser.get("/admin/login/start", &[("org", who)]).await;
    let authorize = redirect(&start);
    assert!(authorize.contains("/auth/authorize?"), "{authorize}");
    let hint = who.contains('@').then_some(who);
    assert_eq!(param(&authorize, "login_hint").as_deref(), hint);
    assert_eq!(
        param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let page = browser.get(&path_of(&authorize), &[]).await;
    assert_eq!(page.status(), StatusCode::OK);
    let request = field(&page.text().await.unwrap(), "request");
    let email = "admin@acme.test";
    let form = [
        ("request", request.as_str()),
        ("email", email),
        ("method", "password"),
    ];
    let page = browser.post("/auth/login", &form).await;
    assert_eq!(page.status(), StatusCode::OK);
    let form = [
        ("request", request.as_str()),
        ("email", email),
        ("password", PASSWORD),
    ];
    let done = browser.post("/auth/login/password", &form).await;
    redirect(&done)
}

async fn console_sign_in(db: TestDb) {
    let server = Server::start(&db).await;
    let user_id = org_with_admin(&server).await;
    let mut browser = Browser::new(&server);

    let first = browser.get("/admin", &[]).await;
    assert_eq!(redirect(&first), "/admin/login");

    let callback = sign_in_to_console(&mut browser, "admin@acme.test").await;
    assert!(callback.contains("/admin/callback?code="), "{callback}");
    let cookies_before = browser.cookies.clone();
    let landed = browser.get(&path_of(&callback), &[]).await;
    assert_eq!(redirect(&landed), "/admin");
    let home = browser.get("/admin", &[]).await;
    assert_eq!(home.status(), StatusCode::OK);
    let csp = home.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = home.text().await.unwrap();
    assert!(
        html.contains("acme Inc") && html.contains("Single Sign-on"),
        "{html}"
    );

    // The code is spent: the same callback, in a browser holding the sign-in cookie, opens nothing.
    let mut replay = Browser::new(&server);
    replay.cookies = cookies_before;
    let again = replay.get(&path_of(&callback), &[]).await;
    assert_eq!(redirect(&again), "/admin/login?error=login-failed");
    // A callback whose state is not the browser's opens nothing either.
    let mut other = Browser::new(&server);
    let forged = other
        .get("/admin/callback", &[("code", "x"), ("state", "y")])
        .await;
    assert_eq!(redirect(&forged), "/admin/login?error=login-expired");

    // The console's own client is Lanyard's: not listed, read or revoked through the API.
    let (_, clients) = server
        .op(Method::GET, "/api/v1/orgs/acme/oauth-clients", None)
        .await;
    assert_eq!(clients["total"], 0, "{clients}");
    let org_id = server.op(Method::GET, "/api/v1/orgs/acme", None).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let console_client = format!("/api/v1/orgs/acme/oauth-clients/console_{org_id}");
    let (status, _) = server.op(Method::GET, &console_client, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.op(Method::DELETE, &console_client, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The console acts as the user: their changes are audited under their name.
    let roles = browser.get("/admin/roles", &[]).await;
    let csrf = field(&roles.text().await.unwrap(), "csrf");
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("name", "Auditors")
        .text("description", "Read the log.")
        .text("permissions", "audit.view");
    let made = browser
        .http
        .post(server.url("/admin/roles"))
        .header(header::COOKIE, browser.cookie_header())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect(&made), "/admin/roles?notice=created");
    let actor = format!("user:{user_id}");
    let path = format!("/api/v1/orgs/acme/audit?actor={actor}&action=role.");
    let (status, log) = server.op(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["items"][0]["action"], "role.create", "{log}");
    // …and so is the sign-in itself.
    let path = format!("/api/v1/orgs/acme/audit?actor={actor}&action=console.signed_in");
    let (_, log) = server.op(Method::GET, &path, None).await;
    assert_eq!(log["total"], 1, "{log}");

    // An id in the URL stays one path segment of the API call: `..%2Froles` names no employee
    // rather than reaching the roles.
    let escaped = browser.get("/admin/employees/..%2Froles", &[]).await;
    let status = escaped.status();
    let html = escaped.text().await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{html}");
    assert!(!html.contains("Auditors"), "{html}");

    // The same form without its token, or with another, changes nothing.
    for token in ["", "forged"] {
        let form = reqwest::multipart::Form::new()
            .text("csrf", token)
            .text("name", "Intruders")
            .text("permissions", "roles.manage");
        let refused = browser
            .http
            .post(server.url("/admin/roles"))
            .header(header::COOKIE, browser.cookie_header())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let (_, roles) = server
        .op(Method::GET, "/api/v1/orgs/acme/roles", None)
        .await;
    assert!(!roles.to_string().contains("Intruders"), "{roles}");

    // Deactivating the user ends their console session at once.
    let path = format!("/api/v1/orgs/acme/users/{user_id}");
    let (status, _) = server
        .op(Method::PATCH, &path, Some(json!({ "active": false })))
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = browser.get("/admin/roles", &[]).await;
    assert_eq!(redirect(&after), "/admin/login");
}
both_backends!(console_sign_in_through_lanyards_sign_in, console_sign_in);

async fn sign_out_and_operator(db: TestDb) {
    let server = Server::start(&db).await;
    org_with_admin(&server).await;
    let mut browser = Browser::new(&server);
    let callback = sign_in_to_console(&mut browser, "acme").await;
    browser.get(&path_of(&callback), &[]).await;
    let home = browser.get("/admin", &[]).await;
    let csrf = field(&home.text().await.unwrap(), "csrf");
    let out = browser.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(redirect(&out), "/admin/login");
    assert_eq!(redirect(&browser.get("/admin", &[]).await), "/admin/login");
    // Signing out ended the sign-in session too: the sign-in asks again.
    let start = browser.get("/admin/login/start", &[("org", "acme")]).await;
    let page = browser.get(&path_of(&redirect(&start)), &[]).await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the identifier page, not a redirect"
    );

    // The operator's key, with the login page's form token (a double-submit cookie).
    let mut operator = Browser::new(&server);
    let key = server.operator_key.clone();
    let no_token = operator
        .post("/admin/login/operator", &[("key", &key)])
        .await;
    assert_eq!(no_token.status(), StatusCode::OK, "the login page again");
    assert!(no_token
        .text()
        .await
        .unwrap()
        .contains("The form had expired"));
    let login = operator.get("/admin/login", &[]).await;
    let token = field(&login.text().await.unwrap(), "csrf");
    let wrong = operator
        .post(
            "/admin/login/operator",
            &[("csrf", &token), ("key", "lyo_nope")],
        )
        .await;
    assert!(wrong.text().await.unwrap().contains("unknown or revoked"));
    let signed = operator
        .post("/admin/login/operator", &[("csrf", &token), ("key", &key)])
        .await;
    assert_eq!(redirect(&signed), "/admin/orgs");
    let orgs = operator.get("/admin/orgs", &[]).await;
    let html = orgs.text().await.unwrap();
    let csrf = field(&html, "csrf");
    let org_id = field(&html, "org");
    let chosen = operator
        .post("/admin/orgs", &[("csrf", &csrf), ("org", &org_id)])
        .await;
    assert_eq!(redirect(&chosen), "/admin");
    let sso = operator.get("/admin/sso", &[]).await;
    assert_eq!(sso.status(), StatusCode::OK);
    assert!(sso.text().await.unwrap().contains("Generic SSO Provider"));

    // Wrong operator keys from one address are limited: 10 at once, then 5 a minute.
    let mut limited = None;
    for _ in 0..12 {
        let tried = operator
            .post(
                "/admin/login/operator",
                &[("csrf", &token), ("key", "lyo_guess")],
            )
            .await;
        if tried.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(tried);
            break;
        }
    }
    let limited = limited.expect("a stream of guesses is stopped");
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    assert!(limited
        .text()
        .await
        .unwrap()
        .contains("Too many sign-in attempts"));
    // The right key still signs in while the address waits: wrong keys from the same
    // address (a shared proxy) do not lock the operator out.
    let mut again = Browser::new(&server);
    let login = again.get("/admin/login", &[]).await;
    let token = field(&login.text().await.unwrap(), "csrf");
    let signed = again
        .post("/admin/login/operator", &[("csrf", &token), ("key", &key)])
        .await;
    assert_eq!(redirect(&signed), "/admin/orgs");
}
both_backends!(
    sign_out_ends_both_sessions_and_the_operator_signs_in_with_a_key,
    sign_out_and_operator
);

async fn languages(db: TestDb) {
    let server = Server::start(&db).await;
    org_with_admin(&server).await;
    let http = reqwest::Client::new();
    let page = |lang: &'static str, path: &'static str| {
        http.get(server.url(path))
            .header(header::ACCEPT_LANGUAGE, lang)
            .send()
    };
    let cases = [
        (
            "ja-JP,ja;q=0.9",
            "管理コンソールにサインイン",
            "lang=\"ja\"",
        ),
        ("ko", "관리 콘솔에 로그인", "lang=\"ko\""),
        ("bg", "Вход в административната конзола", "lang=\"bg\""),
        (
            "fr, en;q=0.5",
            "Sign in to the admin console",
            "lang=\"en\"",
        ),
    ];
    for (lang, text, attribute) in cases {
        let html = page(lang, "/admin/login")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(text) && html.contains(attribute),
            "{lang}: {html}"
        );
    }
    // The sign-in pages follow the same choice; a remembered choice wins over the header.
    let mut browser = Browser::new(&server);
    browser.cookies.push(("lanyard_lang".into(), "ko".into()));
    let start = browser.get("/admin/login/start", &[("org", "acme")]).await;
    let signin = browser.get(&path_of(&redirect(&start)), &[]).await;
    let html = signin.text().await.unwrap();
    assert!(
        html.contains("lang=\"ko\"") && html.contains("이메일 주소"),
        "{html}"
    );
    // An error page too.
    let refused = http
        .get(server.url("/auth/authorize"))
        .header(header::ACCEPT_LANGUAGE, "ja")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("サインインに失敗しました") && html.contains("参照番号"),
        "{html}"
    );
}
both_backends!(pages_speak_the_browsers_language, languages);

async fn user_search_and_audit_filters(db: TestDb) {
    let server = Server::start(&db).await;
    org_with_admin(&server).await;
    for name in ["ann@acme.test", "bob@acme.test", "an_n%@acme.test"] {
        let body = json!({ "user_name": name, "display_name": format!("User {name}") });
        let (status, _) = server
            .op(Method::POST, "/api/v1/orgs/acme/users", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, found) = server
        .op(Method::GET, "/api/v1/orgs/acme/users?q=ANN", None)
        .await;
    assert_eq!(names(&found), vec!["ann@acme.test"]);
    assert_eq!(found["total"], 1);
    // LIKE's wildcards are text in a search.
    let (_, found) = server
        .op(Method::GET, "/api/v1/orgs/acme/users?q=n_n%25", None)
        .await;
    assert_eq!(names(&found), vec!["an_n%@acme.test"]);
    let (status, _) = server
        .op(
            Method::GET,
            &format!("/api/v1/orgs/acme/users?q={}", "x".repeat(300)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, log) = server
        .op(Method::GET, "/api/v1/orgs/acme/audit?action=user.", None)
        .await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.len() >= 4 && actions.iter().all(|a| a.starts_with("user.")),
        "{actions:?}"
    );
    let (_, none) = server
        .op(
            Method::GET,
            "/api/v1/orgs/acme/audit?since=2999-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(none["total"], 0);
    let (_, all) = server
        .op(
            Method::GET,
            "/api/v1/orgs/acme/audit?until=2999-01-01T00:00:00Z",
            None,
        )
        .await;
    assert!(all["total"].as_i64().unwrap() >= 4);
    let (status, error) = server
        .op(Method::GET, "/api/v1/orgs/acme/audit?since=yesterday", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["message"].as_str().unwrap().contains("RFC 3339"));
}
both_backends!(
    users_are_searched_and_the_audit_log_filtered,
    user_search_and_audit_filters
);
