//! The SQLite checkpointer: copies the write-ahead log into the database file on a thread of
//! its own, so no writer pays for it inside a commit, and starts the log over once it is long.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::direct::{Writer, BUSY_TIMEOUT};
use crate::{Result, StoreError};

/// How often the checkpointer copies the write-ahead log into the database file. Often: the
/// writes and fsyncs of a checkpoint slow the writers running beside it in proportion to its
/// size (measured with 100,000 users: every 1 s, creates' p99 was 40 ms; every 25 ms, 8 ms). A
/// round with nothing new in the log does no I/O.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(25);
/// A log this long (frames, of a page each: 64 MiB) is started over (see `checkpoint`); short
/// in tests, so a test can write past it.
const RESTART_FRAMES: i64 = if cfg!(test) { 256 } else { 16_384 };
/// How long a restart waits for readers still in the log (the writers wait as long).
const RESTART_READER_WAIT: Duration = Duration::from_millis(20);
/// Checkpoint rounds after a restart before the next may run (none in tests, whose writers
/// outrun any server's).
const RESTART_REST_ROUNDS: u32 = if cfg!(test) { 0 } else { 8 };
/// A batch left open this long (its writers gone) is committed by the checkpointer.
const STRAY_BATCH: Duration = Duration::from_millis(50);

/// Checkpoints the write-ahead log on a thread of its own until `stop` is dropped, and commits
/// a batch whose writers all went away before committing it.
///
/// A checkpoint writes pages into the database file and fsyncs it: milliseconds. SQLite would
/// run it inside whichever commit crossed the threshold, holding the write lock (and, here, an
/// async worker thread) meanwhile, so every writer connection has automatic checkpoints off and
/// this thread runs them: PASSIVE ones, which block no one, and now and then a RESTART, which
/// holds the writers for a few milliseconds (see `checkpoint`).
pub(super) fn spawn_checkpointer(
    conn: Connection,
    writer: Arc<tokio::sync::Mutex<Writer>>,
    stop: std::sync::mpsc::Receiver<()>,
) -> Result<()> {
    use std::sync::mpsc::RecvTimeoutError;
    std::thread::Builder::new()
        .name("lanyard-checkpoint".into())
        .spawn(move || {
            let mut rounds = Rounds::default();
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
                if let Ok(mut w) = writer.try_lock() {
                    if w.opened.is_some_and(|t| t.elapsed() >= STRAY_BATCH) {
                        if let Err(e) = w.commit() {
                            tracing::error!(error = %e, "committing a left-over SQLite batch failed");
                        }
                    }
                }
                if rounds.sync_failed {
                    continue;
                }
                if let Err(e) = checkpoint(&conn, &writer, &mut rounds) {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
                }
            }
        })
        .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

/// What the checkpointer remembers from one round to the next.
#[derive(Default)]
struct Rounds {
    /// Rounds to wait before the next restart may run.
    rest: u32,
    /// The log's checkpointed frames when the database file was last synced.
    synced: i64,
    /// The log's length at the last restart that found no reader in the way: until a writer
    /// starts the log over, the log is that long and fully copied, and restarting it again
    /// would only hold the writers.
    restarted: Option<i64>,
    /// Syncing the database file failed: checkpoints stop for good (see `checkpoint`).
    sync_failed: bool,
}

/// One round of checkpointing.
///
/// A PASSIVE pass copies what it can while writers go on, and then the database file is synced
/// here if the pass copied anything: SQLite syncs it only when a pass reaches the end of the
/// log, which under a steady stream of commits a pass rarely does, so the copied pages would
/// pile up unsynced in the OS cache for a whole log cycle and the one pass that finally catches
/// up (the restart below, under the write lock) would write them all out: 35–90 ms of stalled
/// writers every half second with 100,000 users being patched, against 5–8 ms with a sync per
/// round.
///
/// Once the log is long, it is started over. Writers would do that themselves, but only one
/// that begins while the log is wholly copied, which under steady writes almost never happens,
/// so the log grew without end (and every page lookup searches it: creates fell by a third over
/// a minute). So a RESTART runs under the write lock: no writer can append meanwhile; it copies
/// the last round's frames, waits briefly for readers still in the log, and the next writer
/// starts the log from the beginning. The writers wait asynchronously, for milliseconds;
/// `rest` spaces these rounds out, so readers that keep the log busy cannot make every round
/// stall the writers.
///
/// A failed sync stops checkpointing for good: Linux reports a write-back error once, so a
/// later sync would succeed and the log could be started over on top of frames whose copies
/// in the database file were lost. The log then grows until the server restarts.
fn checkpoint(
    conn: &Connection,
    writer: &tokio::sync::Mutex<Writer>,
    rounds: &mut Rounds,
) -> Result<()> {
    let (frames, copied): (i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })?;
    if copied > 0 && copied != rounds.synced {
        if let Err(e) = sync_database_file(conn) {
            rounds.sync_failed = true;
            tracing::error!(error = %e, "syncing the SQLite database file failed; checkpoints \
                stop and the log grows until the server is restarted (check the disk)");
            return Err(e);
        }
        rounds.synced = copied;
    }
    if rounds.rest > 0 {
        rounds.rest -= 1;
        return Ok(());
    }
    if frames > RESTART_FRAMES && rounds.restarted != Some(frames) {
        rounds.rest = RESTART_REST_ROUNDS;
        let mut w = writer.blocking_lock();
        w.commit()?;
        conn.busy_timeout(RESTART_READER_WAIT)?;
        let restarted = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
            Ok((r.get::<_, i64>(0)? == 0, r.get::<_, i64>(1)?))
        });
        conn.busy_timeout(BUSY_TIMEOUT)?;
        drop(w);
        let (done, log) = restarted?;
        if done {
            rounds.restarted = Some(log);
        } else {
            tracing::debug!(
                frames = log,
                "readers kept the SQLite log from being started over"
            );
        }
    }
    Ok(())
}

/// Syncs the database file (what a checkpoint that reaches the end of the log does after
/// copying), through the connection's own file object. A second descriptor opened on the file
/// would not do: closing it would drop every POSIX lock this process holds on the file,
/// SQLite's included.
fn sync_database_file(conn: &Connection) -> Result<()> {
    use rusqlite::ffi;
    let failed = |rc| StoreError::from(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None));
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: `conn` is open and used on this thread only; FILE_POINTER stores a pointer to
    // the main database's file object, which the connection owns and keeps while it is open.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&mut file as *mut *mut ffi::sqlite3_file).cast(),
        )
    };
    if rc != ffi::SQLITE_OK || file.is_null() {
        return Err(failed(if rc == ffi::SQLITE_OK {
            ffi::SQLITE_MISUSE
        } else {
            rc
        }));
    }
    // SAFETY: `file` is the open file object found above; its methods are SQLite's VFS ones,
    // and xSync is called on the thread that owns the connection, as SQLite itself would.
    let rc = unsafe {
        match (*file).pMethods.as_ref().and_then(|m| m.xSync) {
            Some(sync) => sync(file, ffi::SQLITE_SYNC_NORMAL),
            None => ffi::SQLITE_MISUSE,
        }
    };
    if rc != ffi::SQLITE_OK {
        return Err(failed(rc));
    }
    Ok(())
}
