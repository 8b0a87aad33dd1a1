//! The statement layer: how a statement and its parameters are written, how a row is read, and
//! the one transaction type [`Tx`] that every aggregate module writes its SQL against.
//!
//! A statement's text is written once, with `$1..$n` placeholders, and runs on all three
//! drivers behind [`Tx`]: sqlx's PostgreSQL and SQLite drivers, and the calling-thread SQLite
//! connections of [`direct`] that the hot SCIM paths use. Rows are read by [`Record`]
//! implementations written once against [`Columns`], which each driver's row provides. Only the
//! few statements whose text must differ between the databases live in [`dialect`].
//!
//! Nothing here knows an aggregate: the modules that own tables depend on this one, never the
//! other way round.

mod checkpoint;
pub(crate) mod dialect;
pub(crate) mod direct;
mod pool;
mod row;
mod tx;

pub(crate) use lanyard_store_derive::Record;
pub use pool::{redact, Backend, Store};
pub(crate) use row::{Cell, Columns, Record};
pub(crate) use tx::{Lock, Serial, Tx};

/// `s` with LIKE's wildcards and the escape character escaped (for `LIKE … ESCAPE '\\'`).
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A NULL text value.
    Null,
    /// A NULL integer value (PostgreSQL types its parameters, so the two NULLs differ).
    NullInt,
}

impl From<Option<&str>> for Bind {
    fn from(v: Option<&str>) -> Bind {
        v.map_or(Bind::Null, |s| Bind::Text(s.to_string()))
    }
}

impl From<&str> for Bind {
    fn from(v: &str) -> Bind {
        Bind::Text(v.to_string())
    }
}

impl From<&String> for Bind {
    fn from(v: &String) -> Bind {
        Bind::Text(v.clone())
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Bind {
        Bind::Text(v)
    }
}

impl From<&Option<String>> for Bind {
    fn from(v: &Option<String>) -> Bind {
        v.as_deref().into()
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(v)
    }
}

impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Bind {
        v.map_or(Bind::NullInt, Bind::Int)
    }
}

impl From<bool> for Bind {
    fn from(v: bool) -> Bind {
        Bind::Bool(v)
    }
}

/// One statement of a change with its parameters. A change may be planned as a list of these
/// (deciding it apart from running it), and [`Tx::run`] runs the list.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub(crate) sql: std::borrow::Cow<'static, str>,
    pub(crate) binds: Vec<Bind>,
}

impl Stmt {
    pub(crate) fn new(sql: impl Into<std::borrow::Cow<'static, str>>, binds: Vec<Bind>) -> Stmt {
        Stmt {
            sql: sql.into(),
            binds,
        }
    }
}

/// Which SCIM table a statement or a filter runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Users,
    Groups,
}
