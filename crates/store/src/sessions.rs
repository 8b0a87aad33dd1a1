//! Browser sessions opened by a verified sign-in.

use crate::db::{Columns, Record};
use crate::{now_ms, Result, Store};

/// A browser session after a verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl Record for Session {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok(Session {
            id: row.get("id")?,
            org_id: row.get("org_id")?,
            user_id: row.get("user_id")?,
            connection_id: row.get("connection_id")?,
            auth_time: row.get("auth_time")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
        })
    }
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
