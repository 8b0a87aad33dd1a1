//! Lanyard's persistence: one API over SQLite (the embedded default) and PostgreSQL.
//!
//! [`db`] is the statement layer every other module writes against: statements written once
//! with `$1..$n` placeholders, rows read once, and one transaction type over the three drivers.
//! Each other module owns one aggregate — its tables, the rules of changing them, and the
//! `impl Store` methods the server calls. Methods take the organization id first and never
//! return another organization's rows.
//!
//! SQLite runs with WAL, `foreign_keys=ON`, a busy timeout and a single writer (readers use
//! their own pool), so a read-then-write transaction can never lose a race for the write lock.

mod access_keys;
mod audit;
mod consents;
mod console_sessions;
mod credentials;
mod db;
mod deployment;
mod error;
mod events;
mod grants;
mod issuance;
mod model;
mod oauth_clients;
mod operator_keys;
mod orgs;
mod passwords;
mod roles;
mod scim;
mod scim_extensions;
mod scim_tokens;
mod sessions;
mod sign_ins;
mod signing_keys;
mod sp_keys;
mod sso_connections;
mod user_emails;
mod users;

#[cfg(feature = "testing")]
pub mod testing;

pub use consents::Consent;
pub use console_sessions::{console_client_id, ConsoleHolder, ConsoleSession};
pub use credentials::LAST_USED_GRANULARITY_MS;
pub use db::{redact, Backend, Store};
pub use error::StoreError;
pub use events::Event;
pub use grants::{AuthCode, GrantRefusal, Issued, LiveToken, OAuthToken, TokenDraft};
pub use model::*;
pub use oauth_clients::{ClientSecrets, OAuthClient, ACCESS_KEY_CLIENT_PREFIX};
pub use passwords::{Invitation, PasswordHolder};
pub use scim::{rfc3339, ScimLink, ScimList, ScimQuery, ScimResource};
pub use sessions::Session;
pub use sign_ins::{LoginRequest, SignIn};
pub use signing_keys::SigningKey;
pub use sp_keys::SpKey;
pub use sso_connections::{AttributeMapping, SsoConnection};

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
