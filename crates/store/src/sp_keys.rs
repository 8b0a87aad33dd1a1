//! SSO connections' own keys (SP signing and encryption keys): made by the server, the private
//! half sealed by it; stored, listed and rotated here.

use crate::audit::record_on;
use crate::db::Record;
use crate::issuance::lock_connection;
use crate::{AuditEvent, Result, Store, StoreError};

/// One of a connection's keys; `private_key` is sealed by the caller, `certificate` is base64
/// DER.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct SpKey {
    pub id: String,
    pub connection_id: String,
    /// `signing` or `encryption`.
    pub usage: String,
    /// `current`, `next` (published, not yet used to sign) or `previous` (kept to decrypt).
    pub state: String,
    pub private_key: String,
    pub certificate: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, connection_id, usage, state, private_key, certificate, created_at";

impl Store {
    /// A connection's keys, current first, then next, then previous.
    pub async fn sp_keys(&self, connection_id: &str) -> Result<Vec<SpKey>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sp_keys WHERE connection_id = $1 ORDER BY usage, \
             CASE state WHEN 'current' THEN 0 WHEN 'next' THEN 1 ELSE 2 END"
        );
        self.read(async |tx| tx.all(&sql, &[connection_id.into()]).await)
            .await
    }

    /// Stores `drafts` (a current key for each usage) unless the connection has keys already
    /// (two servers reaching a new connection at once make one set between them); returns the
    /// connection's keys.
    pub async fn ensure_sp_keys(
        &self,
        org_id: &str,
        connection_id: &str,
        drafts: &[SpKey],
    ) -> Result<Vec<SpKey>> {
        self.write(async |tx| {
            if !lock_connection(tx, org_id, connection_id).await? {
                return Err(StoreError::NotFound);
            }
            let present = tx
                .exists(
                    "SELECT CAST(1 AS BIGINT) FROM sp_keys WHERE connection_id = $1",
                    &[connection_id.into()],
                )
                .await?;
            if !present {
                for key in drafts {
                    insert(tx, key).await?;
                }
            }
            Ok(())
        })
        .await?;
        self.sp_keys(connection_id).await
    }

    /// One rotation step for `usage`, audited. With `draft`, it becomes the `next` key
    /// (published beside the current one, so the IdP can learn it first); refused as a conflict
    /// when there is a next key already. Without, the next key becomes current and the current
    /// one previous (the one before is dropped); refused when there is no next key. Each step
    /// is asked for by name, so a repeated call cannot take the following step by accident.
    pub async fn rotate_sp_key(
        &self,
        org_id: &str,
        connection_id: &str,
        usage: &str,
        draft: Option<&SpKey>,
        audit: &AuditEvent,
    ) -> Result<Vec<SpKey>> {
        self.write(async |tx| {
            if !lock_connection(tx, org_id, connection_id).await? {
                return Err(StoreError::NotFound);
            }
            let binds = [connection_id.into(), usage.into()];
            let has_next = tx
                .exists(
                    "SELECT CAST(1 AS BIGINT) FROM sp_keys WHERE connection_id = $1 \
                     AND usage = $2 AND state = 'next'",
                    &binds,
                )
                .await?;
            match (draft, has_next) {
                (Some(_), true) => {
                    return Err(StoreError::Conflict(format!(
                        "the connection has a next {usage} key already: promote it first"
                    )))
                }
                (Some(draft), false) => {
                    insert(tx, draft).await?;
                }
                (None, false) => {
                    return Err(StoreError::Conflict(format!(
                        "the connection has no next {usage} key to promote: add one first"
                    )))
                }
                (None, true) => {
                    // In this order, so no two keys of a usage share a state at any step.
                    for sql in [
                        "DELETE FROM sp_keys WHERE connection_id = $1 AND usage = $2 \
                         AND state = 'previous'",
                        "UPDATE sp_keys SET state = 'previous' WHERE connection_id = $1 \
                         AND usage = $2 AND state = 'current'",
                        "UPDATE sp_keys SET state = 'current' WHERE connection_id = $1 \
                         AND usage = $2 AND state = 'next'",
                    ] {
                        tx.execute(sql, &binds).await?;
                    }
                }
            }
            record_on(tx, audit, connection_id, Some(org_id)).await
        })
        .await?;
        self.sp_keys(connection_id).await
    }
}

async fn insert(tx: &mut crate::db::Tx<'_>, key: &SpKey) -> Result<u64> {
    tx.execute(
        &format!("INSERT INTO sp_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[
            (&key.id).into(),
            (&key.connection_id).into(),
            (&key.usage).into(),
            (&key.state).into(),
            (&key.private_key).into(),
            (&key.certificate).into(),
            key.created_at.into(),
        ],
    )
    .await
}
