//! SQLite statements run on the calling thread.
//!
//! sqlx's SQLite driver gives every connection a thread of its own, and each statement is a
//! hand-off to that thread and back. Measured under load on two cores, those hand-offs (futex
//! wake-ups, context switches, waiting to be scheduled) took about half of the server's time on a
//! SCIM read and bounded writes at seven hand-offs each, while SQLite itself used under 3 %. The
//! SCIM paths that clients hammer (reading a resource, an indexed lookup, creating and changing
//! users) therefore run here, through rusqlite on connections of our own, with no hand-off at all:
//! a point read or a small transaction takes tens of microseconds, less than a hand-off.
//!
//! There is still a single writer. [`Direct::writer`] is the store's SQLite write lock: writes
//! made here hold it, and every write through sqlx takes it too (see `Store::write`), so the two
//! drivers never write at once and a read-then-write transaction never loses a race for SQLite's
//! write lock. Reads that may walk many rows stay on sqlx's reader pool, off the async threads.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, Row, Statement};

use super::checkpoint::spawn_checkpointer;
use super::Bind;
use crate::{Result, StoreError};

/// Read connections: more than the async threads that use them, so a reader is nearly always
/// free without waiting.
const READERS: usize = 4;
/// Prepared statements kept per connection (the hot paths use about a dozen texts).
const STATEMENT_CACHE: usize = 64;
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most writers one commit carries, so a steady stream of writers still commits.
const MAX_BATCH: usize = 64;
/// How long a writer waits before asking again for SQLite's write lock held elsewhere.
const BUSY_RETRY: Duration = Duration::from_millis(2);

pub(crate) struct Direct {
    writer: Arc<tokio::sync::Mutex<Writer>>,
    /// Writers waiting for the write lock to add their work to the open batch.
    queued: Arc<AtomicUsize>,
    readers: Vec<Mutex<Connection>>,
    next: AtomicUsize,
    /// Dropping it stops the checkpointer.
    _checkpointer: std::sync::mpsc::Sender<()>,
}

/// The write connection and its group commit.
///
/// Writers take the lock in turn and each runs its work inside one open transaction, in a
/// savepoint of its own (so a failing writer undoes only its work). The last writer in line
/// commits for everyone before it; a writer that left the transaction open for others waits
/// for that commit (or makes it) before answering, so nothing is acknowledged before it is
/// committed. Writers under load thus share commits and the pages they all touch (the outbox,
/// the audit log, their indexes) are written to the log once per batch instead of once each.
pub(crate) struct Writer {
    conn: Connection,
    /// When the open batch began; `None` when no transaction is open.
    pub(super) opened: Option<Instant>,
    batched: usize,
    /// How the open batch ends, shared with the writers waiting on it.
    outcome: Arc<OnceLock<bool>>,
    /// Batches ended so far.
    batches: u64,
}

/// A write that could not be made durable, though its own statements ran.
fn batch_failed() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "the database could not commit this change".into(),
    ))
}

impl Writer {
    /// Starts a batch if none is open. Never waits: with another process (or a cancelled
    /// write still finishing on sqlx's thread) holding SQLite's write lock, it is busy at once,
    /// and the caller waits without holding an async thread.
    fn begin(&mut self) -> rusqlite::Result<()> {
        if self.opened.is_none() {
            if !self.conn.is_autocommit() {
                // A rollback that failed earlier left a transaction behind: end it first.
                self.conn.execute_batch("ROLLBACK")?;
            }
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.opened = Some(Instant::now());
            self.outcome = Arc::new(OnceLock::new());
        }
        Ok(())
    }

    /// Ends the open batch, if any, and tells its waiting writers how it ended.
    pub(super) fn commit(&mut self) -> Result<()> {
        if self.opened.is_none() {
            return Ok(());
        }
        let done = self.conn.execute_batch("COMMIT");
        self.end(done.is_ok());
        Ok(done?)
    }

    /// Closes the open batch as committed or, if not, rolls all of it back.
    fn end(&mut self, committed: bool) {
        if !committed && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let _ = self.outcome.set(committed);
        self.batches += 1;
        self.opened = None;
        self.batched = 0;
    }

    /// Runs `work` in its own savepoint of the open batch. An error from `work` undoes its
    /// statements only; anything that leaves the batch itself in doubt (SQLite rolled the
    /// whole transaction back, as it may on a full disk or I/O error; a savepoint statement
    /// failed; `work` panicked) fails the whole batch, so no writer in it is told it succeeded.
    /// An answer `keep` refuses is returned with its statements undone, as an error's are.
    fn run<T>(
        &mut self,
        work: impl FnOnce(&mut Connection) -> Result<T>,
        keep: fn(&T) -> bool,
    ) -> Result<T> {
        self.batched += 1;
        let opened = self
            .conn
            .prepare_cached("SAVEPOINT work")
            .and_then(|mut stmt| stmt.execute([]));
        if let Err(e) = opened {
            self.end(false);
            return Err(e.into());
        }
        let out =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut self.conn))) {
                Ok(out) => out,
                Err(panic) => {
                    self.end(false);
                    std::panic::resume_unwind(panic);
                }
            };
        let close = |conn: &Connection, sql: &str| conn.prepare_cached(sql)?.execute([]);
        let closed = if self.conn.is_autocommit() {
            Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("the transaction was rolled back".into()),
            ))
        } else if out.as_ref().is_ok_and(keep) {
            close(&self.conn, "RELEASE work")
        } else {
            close(&self.conn, "ROLLBACK TO work").and_then(|_| close(&self.conn, "RELEASE work"))
        };
        if let Err(e) = closed {
            self.end(false);
            return Err(match out {
                Err(own) => own,
                Ok(_) => e.into(),
            });
        }
        out
    }
}

/// Counts a writer as waiting for the lock until dropped (also when its request is dropped).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(count: &'a AtomicUsize) -> Queued<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Queued(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Direct {
    /// Opens the connections on the database file at `path` (already created and in WAL mode).
    pub(crate) fn open(path: &Path) -> Result<Direct> {
        let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let open = |access: OpenFlags| -> Result<Connection> {
            let conn = Connection::open_with_flags(path, flags | access)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            Ok(conn)
        };
        let conn = open(OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        // Busy is answered at once and waited for asynchronously (see `Writer::begin`).
        conn.busy_timeout(Duration::ZERO)?;
        // Savepoint journals in memory: a batch's savepoints would otherwise spill them to temp
        // files, created and deleted per batch. A larger page cache keeps a batch from spilling
        // pages to the log before its commit.
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768;",
        )?;
        let writer = Arc::new(tokio::sync::Mutex::new(Writer {
            conn,
            opened: None,
            batched: 0,
            outcome: Arc::new(OnceLock::new()),
            batches: 0,
        }));
        let (stop, stopped) = std::sync::mpsc::channel();
        spawn_checkpointer(
            open(OpenFlags::SQLITE_OPEN_READ_WRITE)?,
            writer.clone(),
            stopped,
        )?;
        let readers = (0..READERS)
            .map(|_| open(OpenFlags::SQLITE_OPEN_READ_ONLY).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(Direct {
            writer,
            queued: Arc::new(AtomicUsize::new(0)),
            readers,
            next: AtomicUsize::new(0),
            _checkpointer: stop,
        })
    }

    /// Holds the store's SQLite write lock until the guard drops, with no batch open: for
    /// writes through sqlx, which run their own transactions.
    pub(crate) async fn write_lock(&self) -> tokio::sync::MutexGuard<'_, Writer> {
        let mut w = self.writer.lock().await;
        if let Err(e) = w.commit() {
            // The batch's own writers are told; this writer starts clean.
            tracing::error!(error = %e, "committing a SQLite batch failed");
        }
        w
    }

    /// Runs `work` atomically and returns once it is committed (see [`Writer`]); an `Err` from
    /// `work` undoes its statements and is returned.
    #[cfg(test)]
    pub(crate) async fn write<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        self.write_keeping(work, |_| true).await
    }

    /// As [`Direct::write`]; an answer `keep` refuses is returned with its statements undone.
    pub(crate) async fn write_keeping<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T>,
        keep: fn(&T) -> bool,
    ) -> Result<T> {
        let queued = Queued::enter(&self.queued);
        let mut w = self.writer.lock().await;
        drop(queued);
        let mut waited = Duration::ZERO;
        while let Err(e) = w.begin() {
            let busy = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy);
            if !busy || waited >= BUSY_TIMEOUT {
                return Err(e.into());
            }
            tokio::time::sleep(BUSY_RETRY).await;
            waited += BUSY_RETRY;
        }
        let out = w.run(work, keep);
        let outcome = w.outcome.clone();
        if self.queued.load(Ordering::SeqCst) == 0 || w.batched >= MAX_BATCH {
            w.commit()?;
            return out;
        }
        drop(w);
        let out = out?;
        // Writers are waiting: the last of them commits this batch. Wait for that, or commit
        // it here if the lock comes back with the batch still open.
        let mut w = self.writer.lock().await;
        if outcome.get().is_none() {
            w.commit()?;
        }
        match outcome.get() {
            Some(true) => Ok(out),
            _ => Err(batch_failed()),
        }
    }

    /// Runs `work` on a free read connection, on this thread. Only for reads that touch a few
    /// rows found by index: they finish faster than handing them to another thread would.
    pub(crate) fn read<T>(&self, work: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(mut conn) = self.readers[(start + i) % n].try_lock() {
                return work(&mut conn);
            }
        }
        let mut conn = self.readers[start % n]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        work(&mut conn)
    }
}

impl From<&Bind> for SqlValue {
    fn from(b: &Bind) -> SqlValue {
        match b {
            Bind::Text(s) => SqlValue::Text(s.clone()),
            Bind::Int(i) => SqlValue::Integer(*i),
            Bind::Float(f) => SqlValue::Real(*f),
            Bind::Bool(v) => SqlValue::Integer(i64::from(*v)),
            Bind::Null | Bind::NullInt => SqlValue::Null,
        }
    }
}

/// Binds `params` to a statement written with `$1..$n` placeholders (the text sqlx runs too):
/// SQLite sees each `$n` as a named parameter, and a name used twice is one parameter.
fn bind(stmt: &mut Statement<'_>, params: &[Bind]) -> Result<()> {
    for index in 1..=stmt.parameter_count() {
        let number = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=params.len()).contains(n))
            .ok_or_else(|| {
                StoreError::Corrupt(format!("statement parameter {index} has no value"))
            })?;
        stmt.raw_bind_parameter(index, SqlValue::from(&params[number - 1]))?;
    }
    Ok(())
}

/// Runs a statement that returns no rows; the number of rows it changed.
/// Only inside [`Direct::write`]: when SQLite has rolled the batch back under a writer (as it may
/// on a full disk), the writer's further statements are refused, not committed one by one.
pub(crate) fn execute(conn: &Connection, sql: &str, params: &[Bind]) -> Result<usize> {
    if conn.is_autocommit() {
        return Err(StoreError::Database(sqlx::Error::Protocol(
            "the write transaction was rolled back".into(),
        )));
    }
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    Ok(stmt.raw_execute()?)
}

/// Runs a query, reading each row with `read`.
pub(crate) fn query<T>(
    conn: &Connection,
    sql: &str,
    params: &[Bind],
    mut read: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row)?);
    }
    Ok(out)
}

/// Runs a query for at most one row.
pub(crate) fn query_one<T>(
    conn: &Connection,
    sql: &str,
    params: &[Bind],
    read: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let mut rows = stmt.raw_query();
    Ok(match rows.next()? {
        Some(row) => Some(read(row)?),
        None => None,
    })
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        if let rusqlite::Error::SqliteFailure(code, message) = &err {
            match code.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    return StoreError::Conflict(crate::error::conflict_message(
                        None,
                        message.as_deref().unwrap_or_default(),
                    ));
                }
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                    return StoreError::Conflict("a referenced resource does not exist".into());
                }
                _ => {}
            }
        }
        StoreError::Database(sqlx::Error::AnyDriverError(Box::new(err)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct() -> (tempfile::TempDir, Arc<Direct>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL);",
        )
        .expect("schema");
        drop(conn);
        (dir, Arc::new(Direct::open(&path).expect("open")))
    }

    fn insert(conn: &Connection, key: &str) -> Result<usize> {
        execute(
            conn,
            "INSERT INTO t (k, n) VALUES ($1, $2)",
            &[key.into(), Bind::Int(1)],
        )
    }

    fn visible(direct: &Direct, key: &str) -> bool {
        direct
            .read(|c| {
                query_one(c, "SELECT n FROM t WHERE k = $1", &[key.into()], |r| {
                    Ok(r.get::<_, i64>(0)?)
                })
            })
            .expect("read")
            .is_some()
    }

    /// Concurrent writers share commits; each one's answer comes after its own commit (a
    /// reader sees the row the moment `write` returns), and a failing writer undoes only its
    /// own statements, even those that succeeded before it failed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_writers_are_atomic_and_acknowledged_after_commit() {
        let (_dir, direct) = direct();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let direct = direct.clone();
                tokio::spawn(async move {
                    let key = format!("k{i}");
                    let fails = i % 7 == 3;
                    let out = direct
                        .write(|c| {
                            insert(c, &key)?;
                            insert(c, &format!("{key}-second"))?;
                            if fails {
                                return Err(StoreError::InvalidInput("refused".into()));
                            }
                            Ok(())
                        })
                        .await;
                    assert_eq!(out.is_err(), fails, "writer {i}");
                    if !fails {
                        assert!(
                            visible(&direct, &key),
                            "acknowledged {key} is not committed"
                        );
                    }
                    fails
                })
            })
            .collect();
        let mut refused = 0;
        for t in tasks {
            refused += usize::from(t.await.expect("task"));
        }
        let rows: i64 = direct
            .read(|c| query_one(c, "SELECT COUNT(*) FROM t", &[], |r| Ok(r.get(0)?)))
            .expect("count")
            .expect("a row");
        assert_eq!(rows as usize, 2 * (200 - refused));
        assert!(!visible(&direct, "k3") && !visible(&direct, "k3-second"));
        // And commits were shared: fewer batches ended than writers wrote.
        assert!(direct.writer.lock().await.batches < 200);
    }

    /// An answer the writer's `keep` refuses is returned, and its statements are undone as an
    /// error's would be, while the batch goes on for the others.
    #[tokio::test]
    async fn a_refused_answer_undoes_its_writes() {
        let (_dir, direct) = direct();
        let refused = direct
            .write_keeping(
                |c| {
                    insert(c, "undone")?;
                    Ok(false)
                },
                |kept: &bool| *kept,
            )
            .await
            .expect("an answer, not an error");
        assert!(!refused);
        assert!(!visible(&direct, "undone"));
        let kept = direct
            .write_keeping(
                |c| {
                    insert(c, "kept")?;
                    Ok(true)
                },
                |kept: &bool| *kept,
            )
            .await
            .expect("write");
        assert!(kept && visible(&direct, "kept"));
    }

    /// Under a steady stream of writes (never a moment with the log wholly copied, when SQLite
    /// would start it over by itself) the log is still started over once long: at the end it
    /// holds the last round's writes or so, not every page written since the start.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_is_started_over_under_steady_writes() {
        let (dir, direct) = direct();
        direct
            .write(|c| Ok(c.execute_batch("CREATE TABLE pad (v TEXT NOT NULL)")?))
            .await
            .expect("table");
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let direct = direct.clone();
                tokio::spawn(async move {
                    for _ in 0..5000 {
                        direct
                            .write(|c| {
                                execute(
                                    c,
                                    "INSERT INTO pad (v) VALUES ($1)",
                                    &[Bind::Text("x".repeat(1500))],
                                )
                            })
                            .await
                            .expect("write");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let conn = Connection::open(dir.path().join("t.db")).expect("open");
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("pages");
        // The checkpointer runs on its own thread every few milliseconds; on a busy machine it
        // may not have had its round since the last writes, so it gets a few. A log that is
        // never started over (with the writes done, SQLite would not start it over either)
        // stays long however long this waits.
        let mut log = i64::MAX;
        for _ in 0..100 {
            log = conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
                .expect("log");
            if log < pages / 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        // 20,000 rows of 1.5 KB, appended: each of the table's pages went through the log at
        // least once, so a log never started over is longer than the database.
        assert!(pages > 7_000, "{pages} pages");
        assert!(
            log < pages / 2,
            "the log holds {log} frames beside {pages} pages"
        );
    }

    /// A batch whose writers all went away before committing it does not hold the write lock
    /// (or its writes) for ever: the checkpointer commits it.
    #[tokio::test]
    async fn a_left_over_batch_is_committed() {
        let (_dir, direct) = direct();
        {
            let mut w = direct.writer.lock().await;
            w.begin().expect("begin");
            w.run(|c| insert(c, "orphan"), |_| true).expect("run");
            assert!(w.opened.is_some());
        }
        assert!(!visible(&direct, "orphan"));
        for _ in 0..50 {
            if visible(&direct, "orphan") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(visible(&direct, "orphan"));
    }

    /// A write through the other driver commits the batch it finds open, and the batch's
    /// writers learn it committed.
    #[tokio::test]
    async fn the_other_driver_commits_an_open_batch_first() {
        let (_dir, direct) = direct();
        let outcome = {
            let mut w = direct.writer.lock().await;
            w.begin().expect("begin");
            w.run(|c| insert(c, "pending"), |_| true).expect("run");
            w.outcome.clone()
        };
        let w = direct.write_lock().await;
        assert!(w.opened.is_none());
        assert_eq!(outcome.get(), Some(&true));
        drop(w);
        assert!(visible(&direct, "pending"));
    }

    /// A writer that left its batch open for the next one is told when that batch fails,
    /// instead of being acknowledged.
    #[tokio::test]
    async fn a_waiting_writer_learns_its_batch_failed() {
        let (_dir, direct) = direct();
        let held = direct.writer.lock().await;
        let spawn = |work: fn(&mut Connection) -> Result<()>| {
            let direct = direct.clone();
            tokio::spawn(async move { direct.write(work).await })
        };
        let first = spawn(|c| insert(c, "first").map(|_| ()));
        while direct.queued.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        let second = spawn(|c| {
            insert(c, "second")?;
            c.execute_batch("ROLLBACK")?;
            insert(c, "second-alone").map(|_| ())
        });
        while direct.queued.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        drop(held);
        assert!(second.await.expect("task").is_err());
        assert!(
            first.await.expect("task").is_err(),
            "acknowledged a rolled-back write"
        );
        for key in ["first", "second", "second-alone"] {
            assert!(!visible(&direct, key), "{key} was kept");
        }
    }

    /// When SQLite rolls the whole transaction back under a batch (as it may on a full disk),
    /// or a writer panics mid-way, the batch fails as a whole: the writers already in it are
    /// told so (none is acknowledged), and the next writer starts a clean batch.
    #[tokio::test]
    async fn a_batch_in_doubt_fails_whole() {
        let (_dir, direct) = direct();
        let mut w = direct.writer.lock().await;
        w.begin().expect("begin");
        w.run(|c| insert(c, "earlier"), |_| true)
            .expect("first writer");
        let earlier = w.outcome.clone();
        let out = w.run(
            |c| {
                insert(c, "doomed")?;
                // What SQLite may do itself on a full disk; the writer's next statement is refused
                // rather than committed on its own.
                c.execute_batch("ROLLBACK")?;
                insert(c, "alone")?;
                Ok(())
            },
            |_| true,
        );
        assert!(out.is_err());
        assert!(w.conn.is_autocommit());
        assert_eq!(earlier.get(), Some(&false));
        assert!(w.opened.is_none());

        w.begin().expect("begin");
        w.run(|c| insert(c, "before-panic"), |_| true)
            .expect("writer");
        let before = w.outcome.clone();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.run(
                |c| -> Result<()> {
                    insert(c, "half")?;
                    panic!("writer bug")
                },
                |_| true,
            )
        }));
        assert!(panicked.is_err());
        assert_eq!(before.get(), Some(&false));
        assert!(w.opened.is_none() && w.conn.is_autocommit());
        drop(w);
        for key in ["earlier", "doomed", "alone", "before-panic", "half"] {
            assert!(!visible(&direct, key), "{key} was kept");
        }
        direct
            .write(|c| insert(c, "after"))
            .await
            .expect("clean batch");
        assert!(visible(&direct, "after"));
    }

    /// SQLite's write lock held elsewhere (another process, a cancelled write finishing) is
    /// waited for without holding an async thread: other tasks run meanwhile.
    #[tokio::test]
    async fn a_busy_database_is_waited_for_asynchronously() {
        let (dir, direct) = direct();
        let other = Connection::open(dir.path().join("t.db")).expect("open");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let writing = {
            let direct = direct.clone();
            tokio::spawn(async move { direct.write(|c| insert(c, "waited")).await })
        };
        // On this single-threaded runtime, these ticks run only if the writer yields.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!writing.is_finished());
        other.execute_batch("COMMIT").expect("unlock");
        writing.await.expect("task").expect("write");
        assert!(visible(&direct, "waited"));
    }

    /// Writers queued together share commits, but no commit carries more than `MAX_BATCH`
    /// of them: 100 writers waiting at once commit in two batches, 64 and 36 (one without the
    /// cap).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_carries_at_most_max_batch_writers() {
        let (_dir, direct) = direct();
        let held = direct.writer.lock().await;
        let before = held.batches;
        let writers: Vec<_> = (0..100)
            .map(|i| {
                let direct = direct.clone();
                tokio::spawn(async move { direct.write(|c| insert(c, &format!("b{i}"))).await })
            })
            .collect();
        while direct.queued.load(Ordering::SeqCst) < 100 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(held);
        for w in writers {
            w.await.expect("task").expect("write");
        }
        assert_eq!(MAX_BATCH, 64);
        // Two: the cap's; a third only if the checkpointer found a batch open 50 ms (a slow
        // machine) and committed it early.
        let batches = direct.writer.lock().await.batches - before;
        assert!((2..=3).contains(&batches), "{batches} batches");
    }

    /// A database another connection keeps locked is waited for `BUSY_TIMEOUT` at most; then
    /// the write fails, leaves nothing behind, and the next write goes through.
    #[tokio::test(start_paused = true)]
    async fn a_database_locked_too_long_fails_the_write() {
        let (dir, direct) = direct();
        let other = Connection::open(dir.path().join("t.db")).expect("open");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let started = tokio::time::Instant::now();
        let out = tokio::time::timeout(BUSY_TIMEOUT * 10, direct.write(|c| insert(c, "never")))
            .await
            .expect("the write gives up on its own");
        assert!(out.is_err(), "a write past the busy timeout fails");
        assert!(started.elapsed() >= BUSY_TIMEOUT);
        other.execute_batch("ROLLBACK").expect("unlock");
        assert!(!visible(&direct, "never"));
        direct.write(|c| insert(c, "after")).await.expect("write");
        assert!(visible(&direct, "after"));
    }

    /// `$n` placeholders bind by number, a name used twice is one parameter, and a statement
    /// that names a parameter it was not given is an error, not a NULL.
    #[test]
    fn numbered_parameters() {
        let (_dir, direct) = direct();
        let got: Option<(String, i64)> = direct
            .read(|c| {
                query_one(
                    c,
                    "SELECT $2 || $1 || $2, $3 + $3",
                    &["b".into(), "a".into(), Bind::Int(4)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .expect("query");
        assert_eq!(got, Some(("aba".to_string(), 8)));
        let count = direct
            .read(|c| {
                Ok(c.prepare("SELECT $2 || $1 || $2, $3 + $3")?
                    .parameter_count())
            })
            .expect("prepare");
        assert_eq!(count, 3);
        let missing = direct.read(|c| {
            query_one(c, "SELECT $2", &["only".into()], |r| {
                Ok(r.get::<_, String>(0)?)
            })
        });
        assert!(missing.is_err());
    }
}
