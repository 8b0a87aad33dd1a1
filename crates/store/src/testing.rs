//! Test support: a fresh database of either backend per test, removed afterwards.
//!
//! PostgreSQL is found at `LANYARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, the administrative database used to create and
//! drop a fresh one per test). It is required: a test fails when it cannot be reached, unless
//! `LANYARD_TEST_SKIP_POSTGRES=1` says to run the SQLite half alone.

use crate::Backend;

/// The default administrative URL of the test PostgreSQL server.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test.
pub struct TestDb {
    /// What to pass as `--database-url` or to [`crate::Store::open`].
    pub url: String,
    /// Which backend this is.
    pub backend: Backend,
    /// A folder that lives as long as the database (the SQLite file is in it); a test may put
    /// its data directory here.
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

/// Whether the PostgreSQL half was turned off for this run.
pub fn postgres_skipped() -> bool {
    std::env::var("LANYARD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

fn admin_url() -> String {
    std::env::var("LANYARD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string())
}

impl TestDb {
    /// A fresh, empty database; `None` only when the PostgreSQL half is turned off.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("lanyard.db").display());
                Some(TestDb {
                    url,
                    backend,
                    dir,
                    postgres: None,
                })
            }
            Backend::Postgres => {
                if postgres_skipped() {
                    eprintln!("LANYARD_TEST_SKIP_POSTGRES=1: PostgreSQL half not run");
                    return None;
                }
                let admin = admin_url();
                let name = format!("lanyard_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL at {} is required for this test ({e}); start it, or set \
                             LANYARD_TEST_SKIP_POSTGRES=1 to run the SQLite half alone",
                            crate::redact(&admin)
                        )
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                let url = format!("{base}/{name}");
                Some(TestDb {
                    url,
                    backend,
                    dir,
                    postgres: Some((admin, name)),
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any async context we can rely on: use a private runtime on a thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database: {dropped:?}");
        }
    }
}

/// Declares one test per backend: `both_backends!(name, body)` where `body` is an
/// `async fn(TestDb)`; expands to `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::new($crate::Backend::Sqlite)
                    .await
                    .unwrap();
                super::$body(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::testing::TestDb::new($crate::Backend::Postgres).await {
                    super::$body(db).await;
                }
            }
        }
    };
}
