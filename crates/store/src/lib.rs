//! Lanyard's persistence: one API over SQLite (the embedded default) and PostgreSQL.
//!
//! Every repository method is written once. The [`read!`]/[`write!`] macros expand a body for each
//! backend, so the same SQL text (with `$1..$n` placeholders, which both drivers accept) runs on
//! both; only the few statements that must differ live in [`dialect`]. Methods take the
//! organization id first and never return another organization's rows.
//!
//! SQLite runs with WAL, `foreign_keys=ON`, a busy timeout and a single writer connection
//! (readers use their own pool), so a read-then-write transaction can never lose a race for the
//! write lock.

mod audit;
mod deployment;
mod dialect;
mod error;
mod keys;
mod model;
mod orgs;
mod pool;
mod roles;
mod scim;
mod scim_extensions;
mod scim_sql;
mod scim_tokens;
mod signin;
mod sqlite_direct;
mod users;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::StoreError;
pub use keys::LAST_USED_GRANULARITY_MS;
pub use model::*;
pub use pool::{redact, Backend, Store};
pub use scim::{rfc3339, Event, ScimLink, ScimList, ScimQuery, ScimResource};
pub use signin::{
    AuthCode, GrantRefusal, Issued, LoginRequest, OAuthClient, OAuthToken, Session, SignIn,
    SigningKey, SsoConnection, TokenDraft,
};

/// Result of every store call.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Milliseconds since the Unix epoch: how every time is stored.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A new row id. Time-ordered (UUIDv7): rows written together land on the same index pages
/// (the primary keys, and the user id that leads the membership, role and e-mail keys), so a
/// write touches a few pages at the end of each index instead of a random page in each.
/// Ids are not secrets (access is checked by organization; secrets such as tokens are made
/// separately): that they show their creation time, as `meta.created` does, is accepted.
fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
