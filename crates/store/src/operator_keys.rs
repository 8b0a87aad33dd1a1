//! Operator keys: the deployment's own admin credentials, stored by their keyed hash.

use crate::audit::record_on;
use crate::db::{Columns, Record};
use crate::{now_ms, AuditEvent, OperatorKey, Result, Store, StoreError};

const COLUMNS: &str = "id, created_at, last_used_at, revoked_at";

/// An operator key with its stored hash.
struct WithHash(OperatorKey, String);

impl Record for WithHash {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok(WithHash(OperatorKey::read(row)?, row.get("secret_hash")?))
    }
}

impl Store {
    /// Stores a new operator key by the hash of its secret, and audits it.
    pub async fn create_operator_key(
        &self,
        id: &str,
        secret_hash: &str,
        audit: &AuditEvent,
    ) -> Result<OperatorKey> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO operator_keys (id, secret_hash, created_at) VALUES ($1, $2, $3)",
                &[id.into(), secret_hash.into(), now_ms().into()],
            )
            .await?;
            record_on(tx, audit, id, None).await
        })
        .await?;
        Ok(self
            .operator_key_by_hash(secret_hash)
            .await?
            .ok_or(StoreError::NotFound)?
            .0)
    }

    /// The operator key whose secret hashes to `secret_hash`, with the stored hash (for a
    /// constant-time comparison by the caller).
    pub async fn operator_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<(OperatorKey, String)>> {
        let sql =
            format!("SELECT {COLUMNS}, secret_hash FROM operator_keys WHERE secret_hash = $1");
        let found: Option<WithHash> = self
            .read(async |tx| tx.optional(&sql, &[secret_hash.into()]).await)
            .await?;
        Ok(found.map(|WithHash(key, hash)| (key, hash)))
    }

    /// Every operator key, newest first.
    pub async fn list_operator_keys(&self) -> Result<Vec<OperatorKey>> {
        let sql = format!("SELECT {COLUMNS} FROM operator_keys ORDER BY created_at DESC, id");
        self.read(async |tx| tx.all(&sql, &[]).await).await
    }

    /// Revokes an operator key and audits it.
    pub async fn revoke_operator_key(&self, id: &str, audit: &AuditEvent) -> Result<()> {
        self.revoke("operator_keys", &[("id", id)], None, audit)
            .await
    }

    /// Records that an operator key was used, unless it was recorded recently.
    pub async fn touch_operator_key(&self, key: &OperatorKey) -> Result<()> {
        self.touch("operator_keys", &key.id, key.last_used_at).await
    }
}
