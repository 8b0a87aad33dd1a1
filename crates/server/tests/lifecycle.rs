//! The process as an operator runs it: start-up, crashes, shutdown, the master key, the CLI,
//! health, metrics and the OpenAPI document — on SQLite and on PostgreSQL.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::{run_cli, spawn_serve, Server, TestDb};
use lanyard_store::both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Every user name of an organization, through the API.
async fn all_user_names(server: &Server, org: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut offset = 0;
    loop {
        let (s, page) = server
            .op(
                Method::GET,
                &format!("/api/v1/orgs/{org}/users?limit=200&offset={offset}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        names.extend(
            items
                .iter()
                .map(|u| u["user_name"].as_str().unwrap().to_string()),
        );
        offset += 200;
        if offset >= page["total"].as_i64().unwrap() {
            return names;
        }
    }
}

async fn crash_mid_burst(db: TestDb) {
    let mut server = Server::start(&db).await;
    server.create_org("acme").await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let url = server.url("/api/v1/orgs/acme/users");
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (url, key, acked, client) = (
            url.clone(),
            server.operator_key.clone(),
            acknowledged.clone(),
            server.client.clone(),
        );
        workers.push(tokio::spawn(async move {
            for n in 0..10_000 {
                let name = format!("w{worker}-{n}");
                let sent = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({ "user_name": name, "roles": ["Agent"] }))
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status() == StatusCode::CREATED => {
                        acked.lock().unwrap().push(name)
                    }
                    Ok(resp) => panic!("unexpected {} during the burst", resp.status()),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    // Kill in the middle of the burst, with requests in flight.
    while acknowledged.lock().unwrap().len() < 60 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill();
    for w in workers {
        w.await.expect("worker");
    }
    let acked: Vec<String> = acknowledged.lock().unwrap().clone();
    assert!(acked.len() >= 60);

    server.restart();
    let stored = all_user_names(&server, "acme").await;
    let lost: Vec<&String> = acked.iter().filter(|n| !stored.contains(*n)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged creations lost after SIGKILL: {lost:?}",
        lost.len()
    );
    // Every stored user is whole: its role grant committed with it.
    let (_, page) = server
        .op(Method::GET, "/api/v1/orgs/acme/users?limit=200", None)
        .await;
    for u in page["items"].as_array().unwrap() {
        assert_eq!(u["roles"], json!(["Agent"]), "{u}");
    }
}
both_backends!(acknowledged_writes_survive_sigkill, crash_mid_burst);

async fn master_key_is_never_silently_replaced(db: TestDb) {
    let mut server = Server::start(&db).await;
    server.create_org("acme").await;
    server.kill();
    let key_file = server.data_dir.join("master.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "master.key must be private");

    // A wrong key in the environment stops start-up with a clear message.
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let err = spawn_serve(
        &server.data_dir,
        &server.database_url,
        &[("LANYARD_MASTER_KEY", wrong)],
    )
    .expect_err("must not start");
    assert!(
        err.iter()
            .any(|l| l.contains("is not the one this database")),
        "{err:?}"
    );

    // A missing key file stops start-up too, and no new key is made.
    let saved = std::fs::read_to_string(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let err = spawn_serve(&server.data_dir, &server.database_url, &[]).expect_err("must not start");
    assert!(
        err.iter().any(|l| l.contains("no key was given")),
        "{err:?}"
    );
    assert!(!key_file.exists(), "a new key was generated");

    // The right key, from the environment, works with no file.
    let (child, base, _) = spawn_serve(
        &server.data_dir,
        &server.database_url,
        &[("LANYARD_MASTER_KEY", saved.trim())],
    )
    .expect("starts");
    let status = reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let mut child = child;
    child.kill().unwrap();
    child.wait().unwrap();
}
both_backends!(
    master_key_is_checked_not_regenerated,
    master_key_is_never_silently_replaced
);

async fn cli_reaches_the_same_database(db: TestDb) {
    let server = Server::start(&db).await;
    let out = run_cli(
        &server.data_dir,
        &db.url,
        &[
            "--json",
            "org",
            "create",
            "--short-name",
            "acme",
            "--name",
            "Acme Corp",
            "--domain",
            "acme.com",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let org: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (s, seen) = server.op(Method::GET, "/api/v1/orgs/acme", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(seen["id"], org["id"]);
    assert_eq!(seen["domains"], json!(["acme.com"]));
    let (_, roles) = server
        .op(Method::GET, "/api/v1/orgs/acme/roles", None)
        .await;
    assert_eq!(roles["items"].as_array().unwrap().len(), 2);

    let bad = run_cli(
        &server.data_dir,
        &db.url,
        &["org", "create", "--short-name", "Bad!", "--name", "X"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("short_name"));
    let dup = run_cli(
        &server.data_dir,
        &db.url,
        &["org", "create", "--short-name", "acme", "--name", "X"],
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let migrate = run_cli(&server.data_dir, &db.url, &["migrate"]);
    assert!(migrate.status.success());

    // Operator keys: list, revoke, and the revoked key stops working.
    let list = run_cli(
        &server.data_dir,
        &db.url,
        &["--json", "operator-key", "list"],
    );
    let keys: Value = serde_json::from_slice(&list.stdout).unwrap();
    let id = keys[0]["id"].as_str().unwrap();
    let revoke = run_cli(&server.data_dir, &db.url, &["operator-key", "revoke", id]);
    assert!(revoke.status.success());
    let (s, _) = server.op(Method::GET, "/api/v1/orgs", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
both_backends!(
    cli_and_server_share_one_database,
    cli_reaches_the_same_database
);

async fn health_metrics_openapi_shutdown(db: TestDb) {
    let mut server = Server::start(&db).await;
    let (s, h) = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, h["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, r) = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, r["status"].as_str()), (StatusCode::OK, Some("ready")));
    server.create_org("acme").await;
    server.op(Method::GET, "/api/v1/orgs/acme", None).await;
    let cert_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../saml/tests/fixtures/keys/idp1.cert.pem"
    );
    let cert = std::fs::read_to_string(cert_path).unwrap();
    let (s, connection) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/sso-connections",
            Some(
                serde_json::json!({"name": "Okta", "idp_entity_id": "https://idp.example",
                                    "sso_url": "https://idp.example/sso", "certificates": [cert]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{connection}");

    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"lanyard_http_requests_total{method="POST",route="/api/v1/orgs",status="201"} 1"#
        ),
        "{metrics}"
    );
    // Each IdP certificate's time left, labelled by connection and fingerprint.
    let expiry = metrics
        .lines()
        .find(|l| l.starts_with("lanyard_sso_certificate_expiry_seconds{"))
        .unwrap_or_else(|| panic!("no certificate expiry: {metrics}"));
    let fingerprint = connection["certificates"][0]["fingerprint_sha256"]
        .as_str()
        .unwrap();
    assert!(
        expiry.contains(&format!(
            "connection=\"{}\"",
            connection["id"].as_str().unwrap()
        )) && expiry.contains(&format!("fingerprint_sha256=\"{fingerprint}\"")),
        "{expiry}"
    );
    let not_after = time::OffsetDateTime::parse(
        connection["certificates"][0]["not_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    let left: i64 = expiry.rsplit(' ').next().unwrap().parse().unwrap();
    let expected = not_after - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((left - expected).abs() < 60, "{expiry} vs {expected}");
    assert!(
        metrics.contains(r#"route="/api/v1/orgs/{org}",status="200""#),
        "routes are templates: {metrics}"
    );
    assert!(
        metrics.contains("lanyard_http_request_duration_seconds_bucket"),
        "latency is a histogram"
    );

    let (s, doc) = server
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/orgs", "post"),
        ("/api/v1/orgs/{org}", "patch"),
        ("/api/v1/orgs/{org}/roles/{role}", "delete"),
        ("/api/v1/orgs/{org}/users", "get"),
        ("/api/v1/orgs/{org}/users/{user}", "patch"),
        (
            "/api/v1/orgs/{org}/service-accounts/{user}/access-keys",
            "post",
        ),
        (
            "/api/v1/orgs/{org}/service-accounts/{user}/access-keys/{key}",
            "delete",
        ),
        ("/api/v1/orgs/{org}/audit", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        doc["servers"][0]["url"].as_str(),
        Some(server.base.as_str())
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    // SIGTERM: a clean exit.
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert!(server
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("\"stopped\"")));
}
both_backends!(
    health_metrics_openapi_and_graceful_shutdown,
    health_metrics_openapi_shutdown
);

/// `--version` answers without touching any database.
#[test]
fn version_flag() {
    let out = std::process::Command::new(common::BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("lanyard {}", env!("CARGO_PKG_VERSION"))
    );
}
