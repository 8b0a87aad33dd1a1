//! Browser sessions opened by a verified sign-in.

use crate::db::Record;
use crate::{now_ms, Result, Store};

/// A browser session after a verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct Session {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub connection_id: Option<String>,
    /// When the user authenticated at the IdP (unix ms).
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// The live session whose cookie secret hashes to `secret_hash`.
    pub async fn session_by_hash(&self, secret_hash: &str) -> Result<Option<Session>> {
        self.read(async |tx| {
            tx.optional(
                "SELECT s.id, s.org_id, s.user_id, s.connection_id, s.auth_time, s.created_at, \
                 s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.secret_hash = $1 AND s.expires_at > $2 AND u.active",
                &[secret_hash.into(), now_ms().into()],
            )
            .await
        })
        .await
    }
}
