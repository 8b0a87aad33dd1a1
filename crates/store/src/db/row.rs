//! Reading rows: a [`Record`] is read once, by column name or position, from any driver's row.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, Sqlite};

use crate::Result;

/// A value one column can hold, readable by all three drivers (text, integers, booleans, and
/// their NULLs as `Option`).
pub(crate) trait Cell:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + rusqlite::types::FromSql
    + Send
    + Unpin
{
}

impl<T> Cell for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + rusqlite::types::FromSql
        + Send
        + Unpin
{
}

/// A column by name (`&str`) or by position (`usize`).
pub(crate) trait Key:
    sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> + rusqlite::RowIndex + Copy
{
}

impl<K> Key for K where
    K: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> + rusqlite::RowIndex + Copy
{
}

/// A row of any driver.
pub(crate) trait Columns {
    fn get<T: Cell>(&self, at: impl Key) -> Result<T>;
}

impl Columns for SqliteRow {
    fn get<T: Cell>(&self, at: impl Key) -> Result<T> {
        Ok(sqlx::Row::try_get(self, at)?)
    }
}

impl Columns for PgRow {
    fn get<T: Cell>(&self, at: impl Key) -> Result<T> {
        Ok(sqlx::Row::try_get(self, at)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn get<T: Cell>(&self, at: impl Key) -> Result<T> {
        Ok(rusqlite::Row::get(self, at)?)
    }
}

/// What one row of a query reads as.
pub(crate) trait Record: Sized + Send + Unpin {
    fn read(row: &impl Columns) -> Result<Self>;
}

impl<A: Cell> Record for (A,) {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok((row.get(0)?,))
    }
}

impl<A: Cell, B: Cell> Record for (A, B) {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

impl<A: Cell, B: Cell, C: Cell> Record for (A, B, C) {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    }
}

impl<A: Cell, B: Cell, C: Cell, D: Cell> Record for (A, B, C, D) {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
    }
}
