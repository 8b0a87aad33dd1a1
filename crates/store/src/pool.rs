use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::sqlite_direct::Direct;
use crate::{dialect, Result, StoreError};

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite {
        reader: SqlitePool,
        writer: SqlitePool,
        /// The hot paths' own connections, and the write lock every SQLite write takes.
        direct: Arc<Direct>,
    },
    Postgres(PgPool),
}

/// The handle every part of the server holds: cheap to clone, shared across tasks.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
}

/// Runs `$body` with `$p` bound to a pool that may write (for SQLite, the single writer, under
/// the store's write lock).
macro_rules! write {
    ($store:expr, |$p:ident| $body:expr) => {
        match &$store.pool {
            $crate::pool::Pool::Sqlite {
                writer: $p, direct, ..
            } => {
                let _write_lock = direct.write_lock().await;
                $body
            }
            $crate::pool::Pool::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$p` bound to a pool for reading.
macro_rules! read {
    ($store:expr, |$p:ident| $body:expr) => {
        match &$store.pool {
            $crate::pool::Pool::Sqlite { reader: $p, .. } => $body,
            $crate::pool::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use {read, write};

const SQLITE_READERS: u32 = 8;
const POSTGRES_CONNECTIONS: u32 = 16;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_TIMEOUT: &str = "15s";

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Store> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // No statement may hold a connection (or a row lock) for long: a runaway query is
            // cancelled instead of starving every other request.
            let options = PgConnectOptions::from_str(url)?
                .options([("statement_timeout", STATEMENT_TIMEOUT)]);
            let pg = PgPoolOptions::new()
                .max_connections(POSTGRES_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            Pool::Postgres(pg)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL in WAL mode survives a process crash; only an OS crash may lose the
                // last commits. That is the usual trade for an embedded default.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            // Checkpoints run on the store's own thread (see `sqlite_direct`).
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
                .await?;
            let direct = Arc::new(Direct::open(options.get_filename())?);
            let reader = SqlitePoolOptions::new()
                .max_connections(SQLITE_READERS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.read_only(true))
                .await?;
            Pool::Sqlite {
                reader,
                writer,
                direct,
            }
        } else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                format!(
                    "unsupported database URL {:?}: use sqlite://<path> or postgres://…",
                    redact(url)
                )
                .into(),
            )));
        };
        Ok(Store { pool })
    }

    /// Which database this store uses.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite { .. } => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations of this store's dialect that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite { writer, .. } => {
                sqlx::migrate!("./migrations/sqlite").run(writer).await?
            }
            Pool::Postgres(pg) => sqlx::migrate!("./migrations/postgres").run(pg).await?,
        }
        Ok(())
    }

    /// Succeeds when the database answers a query.
    pub async fn ping(&self) -> Result<()> {
        read!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { reader, writer, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Pool::Postgres(pg) => pg.close().await,
        }
    }

    /// `(table, column, nullable)` for every table of the schema: lets a test prove the two
    /// dialects' migrations agree.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String, bool)>> {
        let rows = match &self.pool {
            Pool::Sqlite { reader, .. } => {
                sqlx::query_as(dialect::SQLITE_COLUMNS)
                    .fetch_all(reader)
                    .await?
            }
            Pool::Postgres(pg) => {
                sqlx::query_as(dialect::POSTGRES_COLUMNS)
                    .fetch_all(pg)
                    .await?
            }
        };
        Ok(rows)
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
