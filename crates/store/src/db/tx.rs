//! [`Tx`]: a connection of one of the three drivers, inside a transaction when it writes.

use sqlx::{Postgres, Sqlite};

use super::{direct, Backend, Bind, Cell, Record, Stmt};
use crate::{Result, StoreError};

/// Where statements run. Every aggregate module writes its SQL against this type once; which
/// driver runs it is the store's choice (see `Store::write` and its siblings).
pub(crate) enum Tx<'t> {
    /// sqlx's SQLite driver: the single writer (under the store's write lock) or a reader.
    Sqlite(&'t mut sqlx::SqliteConnection),
    Postgres(&'t mut sqlx::PgConnection),
    /// A calling-thread SQLite connection (see [`direct`]): its statements never wait, so work
    /// written as `async` completes in one poll.
    Direct(&'t mut rusqlite::Connection),
}

/// Row locks a read takes on PostgreSQL (SQLite's single writer serializes writers already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// The row is about to change.
    Update,
    /// The row must not change or go until commit.
    Share,
    /// The row must not go (or change its key) until commit: what a reference to it needs.
    KeyShare,
}

/// Advisory locks (PostgreSQL) that serialize work no single row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serial<'a> {
    /// One organization's outbox: its events commit in `seq` order, so a reader following the
    /// cursor never skips one that commits late.
    Outbox(&'a str),
    /// One organization's extension definitions: two stored at once are checked against each
    /// other.
    Extensions(&'a str),
    /// Everything that changes one grant's tokens (a revocation's snapshot would otherwise
    /// miss the pair a concurrent refresh is inserting).
    Grant(&'a str),
    /// The deployment's signing keys: servers starting together make one key between them.
    SigningKeys,
}

impl Serial<'_> {
    /// The statement that takes the lock. Grants use the two-key form, whose key space is
    /// apart from the one-key locks.
    pub(crate) fn stmt(self) -> Stmt {
        let one_key = "SELECT pg_advisory_xact_lock(hashtext($1))";
        let (sql, key) = match self {
            Serial::Outbox(org_id) => (one_key, org_id.to_string()),
            Serial::Extensions(org_id) => (one_key, format!("scim_extensions:{org_id}")),
            Serial::Grant(grant_id) => (
                "SELECT pg_advisory_xact_lock(1, hashtext($1))",
                grant_id.to_string(),
            ),
            Serial::SigningKeys => (one_key, "signing_keys".to_string()),
        };
        Stmt::new(sql, vec![Bind::Text(key)])
    }
}

/// Binds `binds` onto a sqlx query, borrowing their values.
fn bound<'q, DB: sqlx::Database>(
    sql: &'q str,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = match bind {
            Bind::Text(s) => query.bind(s.as_str()),
            Bind::Int(i) => query.bind(*i),
            Bind::Float(f) => query.bind(*f),
            Bind::Bool(b) => query.bind(*b),
            Bind::Null => query.bind(None::<&str>),
            Bind::NullInt => query.bind(None::<i64>),
        };
    }
    query
}

/// The rows of a query on a sqlx connection: all of them, or (with `first`) the first alone.
async fn sqlx_rows<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    sql: &str,
    binds: &[Bind],
    first: bool,
) -> Result<Vec<DB::Row>>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let query = bound::<DB>(sql, binds);
    Ok(if first {
        query.fetch_optional(conn).await?.into_iter().collect()
    } else {
        query.fetch_all(conn).await?
    })
}

fn read_rows<R: Record>(rows: Vec<impl super::Columns>) -> Result<Vec<R>> {
    rows.iter().map(R::read).collect()
}

impl Tx<'_> {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Tx::Postgres(_) => Backend::Postgres,
            Tx::Sqlite(_) | Tx::Direct(_) => Backend::Sqlite,
        }
    }

    /// The clause a `SELECT` ends with to take `lock` on the rows it reads.
    pub(crate) fn lock(&self, lock: Lock) -> &'static str {
        match (self.backend(), lock) {
            (Backend::Sqlite, _) => "",
            (Backend::Postgres, Lock::Update) => " FOR UPDATE",
            (Backend::Postgres, Lock::Share) => " FOR SHARE",
            (Backend::Postgres, Lock::KeyShare) => " FOR KEY SHARE",
        }
    }

    /// Takes `lock` until the transaction ends (PostgreSQL; SQLite's single writer serializes
    /// every write already).
    pub(crate) async fn serialize(&mut self, lock: Serial<'_>) -> Result<()> {
        if self.backend() == Backend::Postgres {
            self.run([lock.stmt()]).await?;
        }
        Ok(())
    }

    /// Runs a statement that returns no rows; how many rows it changed.
    pub(crate) async fn execute(&mut self, sql: &str, binds: &[Bind]) -> Result<u64> {
        Ok(match self {
            Tx::Sqlite(c) => bound::<Sqlite>(sql, binds)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Tx::Postgres(c) => bound::<Postgres>(sql, binds)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Tx::Direct(c) => u64::try_from(direct::execute(c, sql, binds)?).unwrap_or(u64::MAX),
        })
    }

    /// Runs a statement that must change a row: none changed is [`StoreError::NotFound`].
    pub(crate) async fn change(&mut self, sql: &str, binds: &[Bind]) -> Result<u64> {
        match self.execute(sql, binds).await? {
            0 => Err(StoreError::NotFound),
            n => Ok(n),
        }
    }

    /// Runs planned statements in order.
    pub(crate) async fn run(&mut self, stmts: impl IntoIterator<Item = Stmt>) -> Result<()> {
        for stmt in stmts {
            self.execute(&stmt.sql, &stmt.binds).await?;
        }
        Ok(())
    }

    /// Every row of a query.
    pub(crate) async fn all<R: Record>(&mut self, sql: &str, binds: &[Bind]) -> Result<Vec<R>> {
        match self {
            Tx::Sqlite(c) => read_rows(sqlx_rows::<Sqlite>(c, sql, binds, false).await?),
            Tx::Postgres(c) => read_rows(sqlx_rows::<Postgres>(c, sql, binds, false).await?),
            Tx::Direct(c) => direct::query(c, sql, binds, |row| R::read(row)),
        }
    }

    /// The first row of a query, if any.
    pub(crate) async fn optional<R: Record>(
        &mut self,
        sql: &str,
        binds: &[Bind],
    ) -> Result<Option<R>> {
        let first = match self {
            Tx::Sqlite(c) => read_rows(sqlx_rows::<Sqlite>(c, sql, binds, true).await?)?,
            Tx::Postgres(c) => read_rows(sqlx_rows::<Postgres>(c, sql, binds, true).await?)?,
            Tx::Direct(c) => return direct::query_one(c, sql, binds, |row| R::read(row)),
        };
        Ok(first.into_iter().next())
    }

    /// The first row of a query that always returns one (a count, say).
    pub(crate) async fn one<R: Record>(&mut self, sql: &str, binds: &[Bind]) -> Result<R> {
        self.optional(sql, binds).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("a query that answers one row answered none: {sql}"))
        })
    }

    /// The first column of the first row, if any.
    pub(crate) async fn value<T: Cell>(&mut self, sql: &str, binds: &[Bind]) -> Result<Option<T>> {
        Ok(self.optional::<(T,)>(sql, binds).await?.map(|(v,)| v))
    }

    /// The first column of every row.
    pub(crate) async fn values<T: Cell>(&mut self, sql: &str, binds: &[Bind]) -> Result<Vec<T>> {
        Ok(self
            .all::<(T,)>(sql, binds)
            .await?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }

    /// Whether a query finds a row.
    pub(crate) async fn exists(&mut self, sql: &str, binds: &[Bind]) -> Result<bool> {
        Ok(self.value::<i64>(sql, binds).await?.is_some())
    }
}
