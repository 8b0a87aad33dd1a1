//! Starts the real `lanyard` binary on a random loopback port against a fresh database and
//! speaks HTTP to it.

#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

pub use lanyard_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_lanyard");

/// A `lanyard` command with the test's data directory and database, and no inherited settings.
pub fn lanyard(data_dir: &Path, database_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars() {
        if name.starts_with("LANYARD_") {
            cmd.env_remove(name);
        }
    }
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(database_url);
    cmd
}

/// Runs a CLI command to completion.
pub fn run_cli(data_dir: &Path, database_url: &str, args: &[&str]) -> Output {
    lanyard(data_dir, database_url)
        .args(args)
        .output()
        .expect("run lanyard")
}

/// A running server.
pub struct Server {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub operator_key: String,
    pub log: Arc<Mutex<Vec<String>>>,
    pub client: reqwest::Client,
}

impl Server {
    /// Creates an operator key with the CLI and starts `lanyard serve` on the test database.
    pub async fn start(db: &TestDb) -> Server {
        let data_dir = db.dir.path().join("data");
        let out = run_cli(&data_dir, &db.url, &["--json", "operator-key", "create"]);
        assert!(
            out.status.success(),
            "operator-key create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: Value =
            serde_json::from_slice(&out.stdout).expect("operator-key create --json prints JSON");
        let operator_key = created["key"].as_str().expect("key").to_string();
        Server::spawn(data_dir, db.url.clone(), operator_key, &[])
    }

    /// Starts `lanyard serve` with extra environment, waiting until it listens.
    pub fn spawn(
        data_dir: PathBuf,
        database_url: String,
        operator_key: String,
        env: &[(&str, &str)],
    ) -> Server {
        let (child, base, log) = spawn_serve(&data_dir, &database_url, env).unwrap_or_else(|log| {
            panic!("server did not start:\n{}", log.join("\n"));
        });
        Server {
            child,
            base,
            data_dir,
            database_url,
            operator_key,
            log,
            client: reqwest::Client::new(),
        }
    }

    /// Kills the process at once (SIGKILL): no shutdown, no flushing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same data and database.
    pub fn restart(&mut self) {
        self.kill();
        let (child, base, log) = spawn_serve(&self.data_dir, &self.database_url, &[])
            .unwrap_or_else(|log| panic!("server did not restart:\n{}", log.join("\n")));
        self.child = child;
        self.base = base;
        self.log = log;
    }

    /// Sends SIGTERM and waits for the process to end.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on the pid of a child this handle owns and has not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.child.wait().expect("wait")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with `auth` as the Authorization header (if any) and a JSON body (if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status} non-JSON body: {text}"))
        };
        (status, value)
    }

    /// A call as the operator.
    pub async fn op(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let auth = format!("Bearer {}", self.operator_key);
        self.call(method, path, Some(&auth), body).await
    }

    /// Creates an organization as the operator and returns it.
    pub async fn create_org(&self, short_name: &str) -> Value {
        let body = serde_json::json!({ "short_name": short_name, "display_name": format!("{short_name} Inc") });
        let (status, org) = self.op(Method::POST, "/api/v1/orgs", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{org}");
        org
    }

    /// Creates a role, a service account holding it and an access key; returns the bearer value.
    pub async fn access_key_with(&self, org: &str, permissions: &[&str]) -> String {
        let role = format!("role-{}", uuid_like());
        let (s, body) = self
            .op(
                Method::POST,
                &format!("/api/v1/orgs/{org}/roles"),
                Some(serde_json::json!({ "name": role, "permissions": permissions })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        let (s, account) = self
            .op(
                Method::POST,
                &format!("/api/v1/orgs/{org}/service-accounts"),
                Some(serde_json::json!({ "user_name": format!("svc-{role}"), "roles": [role] })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{account}");
        let (s, key) = self
            .op(
                Method::POST,
                &format!(
                    "/api/v1/orgs/{org}/service-accounts/{}/access-keys",
                    account["id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{key}");
        format!("Bearer {}", key["bearer_token"].as_str().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}", n)
}

type Spawned = (Child, String, Arc<Mutex<Vec<String>>>);

/// Starts `serve --listen 127.0.0.1:0 --log-format json` and reads the bound address from the
/// "listening" log line. Err carries the log when the process ends first.
pub fn spawn_serve(
    data_dir: &Path,
    database_url: &str,
    env: &[(&str, &str)],
) -> Result<Spawned, Vec<String>> {
    let mut cmd = lanyard(data_dir, database_url);
    cmd.args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn lanyard serve");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["message"] == "listening" {
                    let _ = tx.send(v["address"].as_str().unwrap_or_default().to_string());
                }
            }
            sink.lock().unwrap().push(line);
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(address) => Ok((child, format!("http://{address}"), log)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            let lines = log.lock().unwrap().clone();
            Err(lines)
        }
    }
}
