use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::direct::Direct;
use super::{dialect, Tx};
use crate::{Result, StoreError};

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
        self.read(async |tx| tx.value::<i64>("SELECT CAST(1 AS BIGINT)", &[]).await)
            .await?;
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

/// Completes work over a calling-thread connection, whose statements never wait: it is ready at
/// its first poll. Work that would wait anyway is refused rather than blocked on.
fn finish_now<F: std::future::Future>(work: F) -> Result<F::Output> {
    let mut work = std::pin::pin!(work);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match work.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Ok(out),
        std::task::Poll::Pending => Err(StoreError::Corrupt(
            "work on a calling-thread SQLite connection tried to wait".into(),
        )),
    }
}

/// Runs `work` in a transaction of a sqlx pool (its connections made a [`Tx`] by `wrap`):
/// committed when `keep` accepts its answer, rolled back on an error or an answer it refuses.
async fn in_transaction<DB: sqlx::Database, T>(
    pool: &sqlx::Pool<DB>,
    wrap: for<'c> fn(&'c mut DB::Connection) -> Tx<'c>,
    work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
    keep: fn(&T) -> bool,
) -> Result<T> {
    let mut tx = pool.begin().await?;
    let out = work(&mut wrap(&mut tx)).await?;
    if keep(&out) {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(out)
}

impl Store {
    /// Runs `work` in one transaction that may write: committed when it answers `Ok`, rolled
    /// back on an error. On SQLite it runs through sqlx's writer, under the store's write lock.
    pub(crate) async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.write_keeping(work, |_| true).await
    }

    /// As [`Store::write`], but an answer `keep` refuses is rolled back too (a refusal found
    /// after some of the work was written).
    pub(crate) async fn write_keeping<T>(
        &self,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
        keep: fn(&T) -> bool,
    ) -> Result<T> {
        match &self.pool {
            Pool::Sqlite { writer, direct, .. } => {
                let _write_lock = direct.write_lock().await;
                in_transaction(writer, |c| Tx::Sqlite(c), work, keep).await
            }
            Pool::Postgres(pg) => in_transaction(pg, |c| Tx::Postgres(c), work, keep).await,
        }
    }

    /// As [`Store::write_keeping`], on SQLite on the calling thread in the shared commit of
    /// `direct`: for the small writes clients hammer.
    pub(crate) async fn write_hot<T>(
        &self,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
        keep: fn(&T) -> bool,
    ) -> Result<T> {
        match &self.pool {
            Pool::Sqlite { direct, .. } => {
                direct
                    .write_keeping(|conn| finish_now(work(&mut Tx::Direct(conn)))?, keep)
                    .await
            }
            Pool::Postgres(pg) => in_transaction(pg, |c| Tx::Postgres(c), work, keep).await,
        }
    }

    /// Runs `work` on a connection for reading (no transaction; SQLite's reader pool).
    pub(crate) async fn read<T>(
        &self,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        match &self.pool {
            Pool::Sqlite { reader, .. } => {
                work(&mut Tx::Sqlite(&mut *reader.acquire().await?)).await
            }
            Pool::Postgres(pg) => work(&mut Tx::Postgres(&mut *pg.acquire().await?)).await,
        }
    }

    /// As [`Store::read`]; with `hot`, on SQLite on the calling thread: only for reads of a few
    /// rows found by index, which finish sooner than a hand-off to another thread would.
    pub(crate) async fn read_hot<T>(
        &self,
        hot: bool,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        match &self.pool {
            Pool::Sqlite { direct, .. } if hot => {
                direct.read(|conn| finish_now(work(&mut Tx::Direct(conn)))?)
            }
            _ => self.read(work).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work whose statements never wait completes at its first poll; work that would wait is
    /// refused instead of blocking the calling thread.
    #[test]
    fn calling_thread_work_must_not_wait() {
        assert_eq!(finish_now(async { 7 }).expect("ready"), 7);
        let waits = finish_now(std::future::pending::<()>());
        assert!(matches!(waits, Err(StoreError::Corrupt(_))));
    }
}
