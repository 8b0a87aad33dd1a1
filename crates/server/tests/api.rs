//! The admin API end to end: the real server on a random loopback port, on SQLite and on
//! PostgreSQL.

mod common;

use common::{Server, TestDb};
use lanyard_store::both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;

async fn orgs_start_with_admin_and_agent(db: TestDb) {
    let server = Server::start(&db).await;
    let org = server.create_org("acme").await;
    let id = org["id"].as_str().unwrap();
    assert_eq!(org["settings"]["default_provisioning_role"], "Agent");
    assert!(org["business_unit_id"].as_i64().unwrap() >= 1_000_000);

    let (s, roles) = server.op(GET, "/api/v1/orgs/acme/roles", None).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Admin", "Agent"]);
    assert_eq!(
        roles["items"][0]["permissions"].as_array().unwrap().len(),
        12,
        "Admin has every permission"
    );
    assert_eq!(
        roles["items"][1]["permissions"],
        json!([]),
        "Agent has none"
    );

    // By id and by short name; update; list; delete.
    let (s, by_id) = server.op(GET, &format!("/api/v1/orgs/{id}"), None).await;
    assert_eq!(
        (s, by_id["short_name"].as_str()),
        (StatusCode::OK, Some("acme"))
    );
    let (s, updated) = server
        .op(
            PATCH,
            "/api/v1/orgs/acme",
            Some(json!({ "display_name": "Acme Corporation", "domains": ["acme.com", "acme.io"] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(updated["domains"], json!(["acme.com", "acme.io"]));
    assert_eq!(updated["display_name"], "Acme Corporation");

    let (s, dup) = server
        .op(
            POST,
            "/api/v1/orgs",
            Some(json!({ "short_name": "acme", "display_name": "Again" })),
        )
        .await;
    assert_eq!(
        (s, dup["error"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (s, dup) = server
        .op(
            POST,
            "/api/v1/orgs",
            Some(json!({ "short_name": "other", "display_name": "O", "domains": ["acme.io"] })),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a claimed domain cannot be claimed twice: {dup}"
    );

    server.create_org("globex").await;
    let (_, list) = server.op(GET, "/api/v1/orgs?limit=1&offset=1", None).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["short_name"], "globex");

    let (s, _) = server.op(DELETE, "/api/v1/orgs/acme", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, gone) = server.op(GET, &format!("/api/v1/orgs/{id}"), None).await;
    assert_eq!(
        (s, gone["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}
both_backends!(
    orgs_start_with_admin_and_agent_roles,
    orgs_start_with_admin_and_agent
);

async fn user_crud_with_paging(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    for i in (0..25).rev() {
        let body = json!({ "user_name": format!("user{i:02}@acme.com"), "email": format!("user{i:02}@acme.com"),
                           "given_name": "Ada", "family_name": "Lovelace", "roles": ["agent"] });
        let (s, u) = server.op(POST, "/api/v1/orgs/acme/users", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
    }
    let mut seen = Vec::new();
    for offset in [0, 10, 20] {
        let (s, page) = server
            .op(
                GET,
                &format!("/api/v1/orgs/acme/users?limit=10&offset={offset}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(page["total"], 25);
        for u in page["items"].as_array().unwrap() {
            seen.push(u["user_name"].as_str().unwrap().to_string());
            assert_eq!(u["roles"], json!(["Agent"]));
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("user{i:02}@acme.com")).collect();
    assert_eq!(
        seen, expected,
        "pages cover every user once, in user_name order"
    );

    // Create with a password: never shown, only has_password.
    let (s, ada) = server
        .op(POST, "/api/v1/orgs/acme/users", Some(json!({ "user_name": "ada", "password": "a long enough secret", "roles": ["Admin"] })))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(ada["has_password"], true);
    assert!(!ada.to_string().contains("a long enough secret"));
    assert!(ada.get("password").is_none() && ada.get("password_hash").is_none());
    let path = format!("/api/v1/orgs/acme/users/{}", ada["id"].as_str().unwrap());

    // Case-insensitive uniqueness.
    let (s, _) = server
        .op(
            POST,
            "/api/v1/orgs/acme/users",
            Some(json!({ "user_name": "ADA" })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Unknown role by name.
    let (s, e) = server
        .op(
            POST,
            "/api/v1/orgs/acme/users",
            Some(json!({ "user_name": "bob", "roles": ["Nope"] })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["message"].as_str().unwrap().contains("Nope"));

    // Update, with ETag / If-Match.
    let resp = server
        .client
        .get(server.url(&path))
        .bearer_auth(&server.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["etag"], "W/\"1\"");
    let (s, u) = server
        .op(
            PATCH,
            &path,
            Some(json!({ "active": false, "family_name": null, "roles": [] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(
        (
            u["active"].as_bool(),
            u["family_name"].is_null(),
            u["version"].as_i64()
        ),
        (Some(false), true, Some(2))
    );
    assert_eq!(u["roles"], json!([]));
    let stale = server
        .client
        .patch(server.url(&path))
        .bearer_auth(&server.operator_key)
        .header("if-match", "W/\"1\"")
        .json(&json!({ "display_name": "Stale" }))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let (_, still) = server.op(GET, &path, None).await;
    assert_eq!(
        still["display_name"],
        Value::Null,
        "a refused update changes nothing"
    );

    let (s, _) = server.op(DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = server.op(GET, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both_backends!(user_crud_with_paging_works, user_crud_with_paging);

async fn access_keys_by_permission(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    // Seed 002's model: a role with only "create and edit employees".
    let key = server
        .access_key_with("acme", &["employees.create", "employees.edit"])
        .await;
    let call = |m: Method, p: &str, b: Option<Value>| {
        let key = key.clone();
        let server = &server;
        let p = p.to_string();
        async move { server.call(m, &p, Some(&key), b).await }
    };
    let (s, _) = call(GET, "/api/v1/orgs/acme/users", None).await;
    assert_eq!(s, StatusCode::OK, "viewing comes with creating and editing");
    let (s, created) = call(
        POST,
        "/api/v1/orgs/acme/users",
        Some(json!({ "user_name": "pat" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let (s, e) = call(
        POST,
        "/api/v1/orgs/acme/users",
        Some(json!({ "user_name": "mallory", "roles": ["Admin"] })),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "granting a role above one's own is refused: {e}"
    );
    assert_eq!(e["error"], "forbidden");
    let (s, _) = call(GET, "/api/v1/orgs/acme/audit", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(
        POST,
        "/api/v1/orgs/acme/roles",
        Some(json!({ "name": "x" })),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(
        POST,
        "/api/v1/orgs",
        Some(json!({ "short_name": "mine", "display_name": "M" })),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only operators create organizations"
    );
    let (s, orgs) = call(GET, "/api/v1/orgs", None).await;
    assert_eq!((s, orgs["total"].as_i64()), (StatusCode::OK, Some(1)));

    // An Admin user is out of reach of this key, even though it may edit employees.
    let (_, admin) = server
        .op(
            POST,
            "/api/v1/orgs/acme/users",
            Some(json!({ "user_name": "boss", "roles": ["Admin"] })),
        )
        .await;
    let boss = format!("/api/v1/orgs/acme/users/{}", admin["id"].as_str().unwrap());
    let (s, _) = call(
        PATCH,
        &boss,
        Some(json!({ "password": "taken over at last!" })),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(DELETE, &boss, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // An Admin access key may do everything in its organization, and authenticates by Basic too.
    let admin_key = server
        .access_key_with(
            "acme",
            &[
                "roles.manage",
                "audit.view",
                "employees.view",
                "tokens.manage",
            ],
        )
        .await;
    let (s, _) = server
        .call(GET, "/api/v1/orgs/acme/audit", Some(&admin_key), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let token = admin_key.trim_start_matches("Bearer ");
    let (id, secret) = token.split_once('.').unwrap();
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    );
    let (s, _) = server
        .call(GET, "/api/v1/orgs/acme/roles", Some(&basic), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = server
        .call(
            GET,
            "/api/v1/orgs/acme/roles",
            Some(&format!("Bearer {id}.wrong")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Revoked keys and deactivated accounts stop at once.
    let (_, accounts) = server
        .op(GET, "/api/v1/orgs/acme/service-accounts", None)
        .await;
    assert_eq!(accounts["total"], 2);
    let account = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["roles"][0].as_str().unwrap().starts_with("role-"))
        .unwrap()
        .clone();
    let key_id = key
        .trim_start_matches("Bearer ")
        .split_once('.')
        .unwrap()
        .0
        .to_string();
    let owner = {
        let mut found = None;
        for a in accounts["items"].as_array().unwrap() {
            let (_, keys) = server
                .op(
                    GET,
                    &format!(
                        "/api/v1/orgs/acme/service-accounts/{}/access-keys",
                        a["id"].as_str().unwrap()
                    ),
                    None,
                )
                .await;
            if keys["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["access_key_id"] == key_id.as_str())
            {
                assert!(
                    keys["items"][0]["last_used_at"].is_string(),
                    "use is recorded: {keys}"
                );
                found = Some(a["id"].as_str().unwrap().to_string());
            }
        }
        found.expect("the key's account")
    };
    let _ = account;
    let (s, _) = server
        .op(
            PATCH,
            &format!("/api/v1/orgs/acme/users/{owner}"),
            Some(json!({ "active": false })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = call(GET, "/api/v1/orgs/acme/users", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{e}");
    assert!(e["message"].as_str().unwrap().contains("deactivated"));
    let (s, _) = server
        .op(
            PATCH,
            &format!("/api/v1/orgs/acme/users/{owner}"),
            Some(json!({ "active": true })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(GET, "/api/v1/orgs/acme/users", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, revoked) = server
        .op(
            DELETE,
            &format!("/api/v1/orgs/acme/service-accounts/{owner}/access-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    let (s, e) = call(GET, "/api/v1/orgs/acme/users", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(e["message"].as_str().unwrap().contains("revoked"));
    let (_, log) = server
        .op(GET, "/api/v1/orgs/acme/audit?limit=200", None)
        .await;
    let refused = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "authenticate" && r["outcome"] == "denied")
        .count();
    assert_eq!(
        refused, 2,
        "the deactivated and the revoked attempt are audited: {log}"
    );

    // Access keys belong to service accounts only.
    let (_, human) = server
        .op(
            POST,
            "/api/v1/orgs/acme/users",
            Some(json!({ "user_name": "human" })),
        )
        .await;
    let (s, _) = server
        .op(
            POST,
            &format!(
                "/api/v1/orgs/acme/service-accounts/{}/access-keys",
                human["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both_backends!(
    access_keys_allowed_and_denied_by_permission,
    access_keys_by_permission
);

async fn foreign_ids_are_404(db: TestDb) {
    let server = Server::start(&db).await;
    let acme = server.create_org("acme").await;
    let globex = server.create_org("globex").await;
    let globex_id = globex["id"].as_str().unwrap();
    let everything = [
        "sso.provider.view",
        "scim",
        "employees.view",
        "employees.create",
        "employees.edit",
        "roles.manage",
        "tokens.manage",
        "apps.manage",
        "audit.view",
    ];
    let acme_key = server.access_key_with("acme", &everything).await;
    let _globex_key = server.access_key_with("globex", &everything).await;
    let (_, g_user) = server
        .op(
            POST,
            "/api/v1/orgs/globex/users",
            Some(json!({ "user_name": "gina" })),
        )
        .await;
    let g_user = g_user["id"].as_str().unwrap();
    let (_, g_accounts) = server
        .op(GET, "/api/v1/orgs/globex/service-accounts", None)
        .await;
    let g_account = g_accounts["items"][0]["id"].as_str().unwrap().to_string();
    let (_, g_roles) = server.op(GET, "/api/v1/orgs/globex/roles", None).await;
    let g_role = g_roles["items"][0]["id"].as_str().unwrap().to_string();

    // Another organization, named any way, does not exist for this key.
    for org in ["globex", globex_id] {
        for (m, p) in [
            (GET, format!("/api/v1/orgs/{org}")),
            (PATCH, format!("/api/v1/orgs/{org}")),
            (DELETE, format!("/api/v1/orgs/{org}")),
            (GET, format!("/api/v1/orgs/{org}/users")),
            (GET, format!("/api/v1/orgs/{org}/users/{g_user}")),
            (DELETE, format!("/api/v1/orgs/{org}/users/{g_user}")),
            (GET, format!("/api/v1/orgs/{org}/roles")),
            (GET, format!("/api/v1/orgs/{org}/audit")),
            (
                GET,
                format!("/api/v1/orgs/{org}/service-accounts/{g_account}/access-keys"),
            ),
            (
                POST,
                format!("/api/v1/orgs/{org}/service-accounts/{g_account}/access-keys"),
            ),
        ] {
            let body = (m == PATCH).then(|| json!({}));
            let (s, e) = server.call(m.clone(), &p, Some(&acme_key), body).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{m} {p}: {e}");
        }
    }
    // Another organization's ids under one's own organization are 404 too, even for the operator.
    let acme_id = acme["id"].as_str().unwrap();
    for (who, auth) in [
        ("key", acme_key.clone()),
        ("operator", format!("Bearer {}", server.operator_key)),
    ] {
        for (m, p) in [
            (GET, format!("/api/v1/orgs/{acme_id}/users/{g_user}")),
            (PATCH, format!("/api/v1/orgs/acme/users/{g_user}")),
            (DELETE, format!("/api/v1/orgs/acme/users/{g_user}")),
            (GET, format!("/api/v1/orgs/acme/roles/{g_role}")),
            (DELETE, format!("/api/v1/orgs/acme/roles/{g_role}")),
            (
                POST,
                format!("/api/v1/orgs/acme/service-accounts/{g_account}/access-keys"),
            ),
        ] {
            let body = (m == PATCH).then(|| json!({ "active": false }));
            let (s, e) = server.call(m.clone(), &p, Some(&auth), body).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{who} {m} {p}: {e}");
        }
    }
    // A foreign role cannot be granted by name either: it does not exist here.
    let (s, _) = server
        .call(
            POST,
            "/api/v1/orgs/acme/users",
            Some(&acme_key),
            Some(json!({ "user_name": "x", "roles": [g_role] })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing of globex changed.
    let (_, g) = server
        .op(GET, &format!("/api/v1/orgs/globex/users/{g_user}"), None)
        .await;
    assert_eq!(
        (g["active"].as_bool(), g["version"].as_i64()),
        (Some(true), Some(1))
    );
}
both_backends!(another_orgs_ids_are_404, foreign_ids_are_404);

async fn audit_rows(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let key = server.access_key_with("acme", &["employees.view"]).await;
    let (_, u) = server
        .op(
            POST,
            "/api/v1/orgs/acme/users",
            Some(json!({ "user_name": "ada" })),
        )
        .await;
    server
        .op(
            PATCH,
            &format!("/api/v1/orgs/acme/users/{}", u["id"].as_str().unwrap()),
            Some(json!({ "active": false })),
        )
        .await;
    let (s, _) = server
        .call(
            POST,
            "/api/v1/orgs/acme/users",
            Some(&key),
            Some(json!({ "user_name": "eve" })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, log) = server
        .op(GET, "/api/v1/orgs/acme/audit?limit=200", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let items = log["items"].as_array().unwrap();
    let find = |action: &str, outcome: &str| {
        items
            .iter()
            .find(|r| r["action"] == action && r["outcome"] == outcome)
            .cloned()
            .unwrap_or_else(|| panic!("no {outcome} {action} in {log}"))
    };
    let created = find("org.create", "success");
    assert!(created["actor"]
        .as_str()
        .unwrap()
        .starts_with("operator:op_"));
    let update = find("user.update", "success");
    assert_eq!(update["target"], u["id"]);
    assert!(update["created_at"].as_str().unwrap().ends_with('Z'));
    find("role.create", "success");
    find("service_account.create", "success");
    find("access_key.create", "success");
    let denied = find("user.create", "denied");
    assert!(denied["actor"]
        .as_str()
        .unwrap()
        .starts_with("access_key:lak_"));
    assert!(!items.iter().any(|r| r["action"] == "user.create"
        && r["detail"]["user_name"] == "eve"
        && r["outcome"] == "success"));
    assert_eq!(log["total"].as_i64().unwrap() as usize, items.len());
}
both_backends!(audit_rows_are_written, audit_rows);

/// Everything observable through the API, to compare before and after bad requests.
async fn snapshot(server: &Server) -> Value {
    let (_, orgs) = server.op(GET, "/api/v1/orgs?limit=200", None).await;
    let (_, users) = server
        .op(GET, "/api/v1/orgs/acme/users?limit=200", None)
        .await;
    let (_, roles) = server.op(GET, "/api/v1/orgs/acme/roles", None).await;
    let (_, audit) = server
        .op(GET, "/api/v1/orgs/acme/audit?limit=1", None)
        .await;
    json!({ "orgs": orgs, "users": users, "roles": roles["items"], "audit_total": audit["total"] })
}

async fn invalid_input(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let (_, u) = server
        .op(
            POST,
            "/api/v1/orgs/acme/users",
            Some(json!({ "user_name": "ada" })),
        )
        .await;
    let user = format!("/api/v1/orgs/acme/users/{}", u["id"].as_str().unwrap());
    let before = snapshot(&server).await;
    let auth = format!("Bearer {}", server.operator_key);

    // No connection reuse: a server may close a connection whose oversized body it did not read,
    // and the next case must not inherit that.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let raw = |method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut req = client
            .request(method, server.url(path))
            .header("authorization", &auth)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            raw(
                POST,
                "/api/v1/orgs",
                Some("application/json"),
                b"{\"short_name\": ".to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            "unknown field",
            raw(
                POST,
                "/api/v1/orgs",
                Some("application/json"),
                br#"{"short_name":"zz","display_name":"Z","colour":"red"}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
        (
            "wrong type",
            raw(
                POST,
                "/api/v1/orgs/acme/users",
                Some("application/json"),
                br#"{"user_name": 5}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user_name",
        ),
        (
            "missing field",
            raw(
                POST,
                "/api/v1/orgs/acme/roles",
                Some("application/json"),
                br#"{"permissions": []}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            "bad short name",
            raw(
                POST,
                "/api/v1/orgs",
                Some("application/json"),
                br#"{"short_name":"Bad Name","display_name":"Z"}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "short_name",
        ),
        (
            "bad domain",
            raw(
                PATCH,
                "/api/v1/orgs/acme",
                Some("application/json"),
                br#"{"display_name":"Changed","domains":["not a domain"]}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "domain",
        ),
        (
            "unknown permission",
            raw(
                POST,
                "/api/v1/orgs/acme/roles",
                Some("application/json"),
                br#"{"name":"r","permissions":["root"]}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "root",
        ),
        (
            "bad email",
            raw(
                PATCH,
                &user,
                Some("application/json"),
                br#"{"email":"nope","given_name":"Changed"}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            "short password",
            raw(
                PATCH,
                &user,
                Some("application/json"),
                br#"{"password":"short"}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            "no content type",
            raw(
                POST,
                "/api/v1/orgs",
                None,
                br#"{"short_name":"zz","display_name":"Z"}"#.to_vec(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type",
        ),
        (
            "too large",
            raw(
                POST,
                "/api/v1/orgs",
                Some("application/json"),
                format!(
                    "{{\"short_name\":\"zz\",\"display_name\":\"{}\"}}",
                    "x".repeat(2 * 1024 * 1024)
                )
                .into_bytes(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger",
        ),
        (
            "bad limit",
            raw(GET, "/api/v1/orgs/acme/users?limit=0", None, vec![]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            "unknown query parameter",
            raw(GET, "/api/v1/orgs/acme/users?sort=desc", None, vec![]),
            StatusCode::BAD_REQUEST,
            "sort",
        ),
        (
            "bad If-Match",
            raw(
                PATCH,
                &user,
                Some("application/json"),
                br#"{"given_name":"Changed"}"#.to_vec(),
            )
            .header("if-match", "garbage"),
            StatusCode::BAD_REQUEST,
            "If-Match",
        ),
        (
            "no such endpoint",
            raw(GET, "/api/v1/nothing", None, vec![]),
            StatusCode::NOT_FOUND,
            "endpoint",
        ),
        (
            "wrong method",
            raw(Method::PUT, "/api/v1/orgs", None, vec![]),
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
        ),
        (
            "no credentials",
            client.get(server.url("/api/v1/orgs")),
            StatusCode::UNAUTHORIZED,
            "Bearer",
        ),
        (
            "bad credentials",
            client
                .get(server.url("/api/v1/orgs"))
                .bearer_auth("lyo_not-a-key"),
            StatusCode::UNAUTHORIZED,
            "unknown",
        ),
        (
            "not a role",
            raw(
                PATCH,
                &user,
                Some("application/json"),
                br#"{"roles":["Ghost"],"given_name":"Changed"}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Ghost",
        ),
        (
            "an allowed change, to prove the snapshot sees changes",
            raw(DELETE, "/api/v1/orgs/acme/roles/Admin", None, vec![]),
            StatusCode::NO_CONTENT,
            "",
        ),
    ];
    for (name, req, status, needle) in cases {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), status, "{name}");
        if status == StatusCode::NO_CONTENT {
            continue;
        }
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        assert_eq!(ct.as_deref(), Some("application/json"), "{name}");
        let message = body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {body}"));
        assert!(body["error"].is_string(), "{name}: {body}");
        assert!(message.contains(needle), "{name}: {message}");
    }
    let mut after = snapshot(&server).await;
    // Deleting the unused Admin role (the last case) is the one change made; undo it in the view.
    let admin_gone = after["roles"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["name"] != "Admin");
    assert!(admin_gone);
    let mut expected = before.clone();
    expected["roles"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["name"] != "Admin");
    expected["audit_total"] = json!(before["audit_total"].as_i64().unwrap() + 1);
    after["orgs"]["items"][0]["updated_at"] = before["orgs"]["items"][0]["updated_at"].clone();
    assert_eq!(after, expected, "bad input changed stored data");
}
both_backends!(invalid_input_is_4xx_json_and_changes_nothing, invalid_input);

async fn confusion_and_escalation(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let (_, roles) = server.op(GET, "/api/v1/orgs/acme/roles", None).await;
    let admin_id = roles["items"][0]["id"].as_str().unwrap().to_string();

    // A name shaped like an id could be found in place of the resource with that id.
    let (s, e) = server
        .op(
            POST,
            "/api/v1/orgs/acme/roles",
            Some(json!({ "name": admin_id })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, _) = server.op(POST, "/api/v1/orgs", Some(json!({ "short_name": "0b7f3c1e-8d2a-4c55-9e61-3f2a7b9c0d14", "display_name": "X" }))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Changing a role acts on its holders: a caller may not weaken or strengthen a role held by
    // someone with permissions the caller lacks.
    let (_, viewers) = server
        .op(
            POST,
            "/api/v1/orgs/acme/roles",
            Some(json!({ "name": "Viewers", "permissions": ["employees.view"] })),
        )
        .await;
    server
        .op(
            POST,
            "/api/v1/orgs/acme/roles",
            Some(json!({ "name": "Auditors", "permissions": ["audit.view"] })),
        )
        .await;
    server
        .op(
            POST,
            "/api/v1/orgs/acme/users",
            Some(json!({ "user_name": "una", "roles": ["Viewers", "Auditors"] })),
        )
        .await;
    let key = server
        .access_key_with("acme", &["roles.manage", "employees.view"])
        .await;
    let viewers_path = format!(
        "/api/v1/orgs/acme/roles/{}",
        viewers["id"].as_str().unwrap()
    );
    let (s, e) = server
        .call(
            PATCH,
            &viewers_path,
            Some(&key),
            Some(json!({ "permissions": [] })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert!(e["message"].as_str().unwrap().contains("audit.view"));
    let (_, still) = server.op(GET, &viewers_path, None).await;
    assert_eq!(still["permissions"], json!(["employees.view"]));
    // A role no stronger than the caller, held by no one stronger, may be changed.
    let (s, e) = server
        .call(
            PATCH,
            "/api/v1/orgs/acme/roles/Agent",
            Some(&key),
            Some(json!({ "description": "Provisioned users" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    // …but not given what the caller does not hold.
    let (s, _) = server
        .call(
            PATCH,
            "/api/v1/orgs/acme/roles/Agent",
            Some(&key),
            Some(json!({ "permissions": ["tokens.manage"] })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Characters a database cannot hold are bad input, never a server error.
    let (s, e) = server
        .op(
            POST,
            "/api/v1/orgs/acme/roles",
            Some(json!({ "name": "Nul", "description": "a\u{0}b" })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    for path in [
        "/api/v1/orgs/acme/users/%00",
        "/api/v1/orgs/%00",
        "/api/v1/orgs/acme/roles/a%00b",
        "/api/v1/orgs/%FF/users",
    ] {
        let (s, e) = server.op(GET, path, None).await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND,
            "{path}: {s} {e}"
        );
        assert!(e["error"].is_string(), "{path}: {e}");
    }
    use base64::Engine;
    let nul_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("lak_\u{0}:x")
    );
    let (s, _) = server
        .call(GET, "/api/v1/orgs", Some(&nul_basic), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Refusals that reveal nothing to the caller still leave a trace in the caller's own log.
    let other = server.create_org("globex").await;
    let (s, _) = server
        .call(
            GET,
            &format!("/api/v1/orgs/{}", other["id"].as_str().unwrap()),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, log) = server
        .op(GET, "/api/v1/orgs/acme/audit?limit=200", None)
        .await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "org.access" && r["outcome"] == "denied"),
        "{log}"
    );
    let (_, globex_log) = server
        .op(GET, "/api/v1/orgs/globex/audit?limit=200", None)
        .await;
    assert!(
        !globex_log.to_string().contains("org.access"),
        "the other org's log does not learn of it"
    );
}
both_backends!(
    confusion_and_escalation_attempts_fail,
    confusion_and_escalation
);

async fn scim_tokens(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    server.create_org("globex").await;
    let (s, created) = server
        .op(
            POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(json!({ "name": "Okta provisioning", "expires_at": "2099-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("lyt_") && token.len() > 40);
    assert_eq!(created["scim_endpoint"], format!("{}/scim/v2", server.base));
    assert_eq!(created["expires_at"], "2099-01-01T00:00:00Z");
    assert!(token.starts_with(created["prefix"].as_str().unwrap()));
    let id = created["id"].as_str().unwrap();

    let (s, list) = server.op(GET, "/api/v1/orgs/acme/scim-tokens", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["total"], 1);
    assert!(!list.to_string().contains(token), "the token is shown once");
    assert_eq!(list["items"][0]["name"], "Okta provisioning");

    for (expires, why) in [
        ("2001-01-01T00:00:00Z", "past"),
        ("tomorrow", "not a time"),
        ("2099-01-01T00:00:00+02:00", "not UTC"),
    ] {
        let (s, e) = server
            .op(
                POST,
                "/api/v1/orgs/acme/scim-tokens",
                Some(json!({ "name": "x", "expires_at": expires })),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}: {e}");
    }
    let (s, _) = server
        .op(
            POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(json!({ "name": "" })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Permission and tenancy.
    let viewer = server.access_key_with("acme", &["employees.view"]).await;
    let (s, _) = server
        .call(GET, "/api/v1/orgs/acme/scim-tokens", Some(&viewer), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A SCIM token can do all of SCIM: making one needs `scim` beside `tokens.manage`.
    let manager = server.access_key_with("acme", &["tokens.manage"]).await;
    let body = json!({ "name": "by a manager" });
    let (s, e) = server
        .call(
            POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(&manager),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert!(e["message"].as_str().unwrap().contains("scim"), "{e}");
    // A SCIM token acts on every user, admins included: its maker must hold all they hold.
    let provisioner = server
        .access_key_with("acme", &["tokens.manage", "scim"])
        .await;
    let (s, e) = server
        .call(
            POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(&provisioner),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("roles.manage"),
        "{e}"
    );
    let everything = [
        "tokens.manage",
        "scim",
        "employees.view",
        "employees.create",
        "employees.edit",
        "roles.manage",
        "apps.manage",
        "audit.view",
        "sso.provider.view",
        "sso.provider.add",
        "sso.provider.edit",
        "sso.provider.delete",
    ];
    let admin = server.access_key_with("acme", &everything).await;
    let (s, e) = server
        .call(
            POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(&admin),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let (s, _) = server
        .op(
            DELETE,
            &format!("/api/v1/orgs/globex/scim-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another organization's token id is 404"
    );

    let (s, _) = server
        .op(DELETE, &format!("/api/v1/orgs/acme/scim-tokens/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = server.op(GET, "/api/v1/orgs/acme/scim-tokens", None).await;
    let revoked = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id);
    assert!(revoked.unwrap()["revoked_at"].is_string());
    let (_, log) = server
        .op(GET, "/api/v1/orgs/acme/audit?limit=200", None)
        .await;
    for action in ["scim_token.create", "scim_token.revoke"] {
        assert!(
            log["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["action"] == action),
            "{action}"
        );
    }
}
both_backends!(scim_tokens_are_created_listed_and_revoked, scim_tokens);
