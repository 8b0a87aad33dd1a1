//! Organizations' SCIM extension schemas, kept as the JSON definitions the admin API checked.
//! The store does not read them: `lanyard_scim::extension` does.

use crate::audit::record_on;
use crate::db::{Serial, Tx};
use crate::{now_ms, AuditEvent, Result, Store, StoreError};

const DEFINITIONS: &str =
    "SELECT definition FROM scim_extensions WHERE org_id = $1 ORDER BY created_at, urn_key";

/// Holds off other changes to the organization's extensions until `tx` ends. On PostgreSQL
/// the lock is taken before anything is read: under READ COMMITTED (sqlx's default, which the
/// outbox lock also relies on) every later statement of `tx` sees what the previous holder
/// committed.
async fn lock_extensions(tx: &mut Tx<'_>, org_id: &str) -> Result<()> {
    tx.serialize(Serial::Extensions(org_id)).await
}

impl Store {
    /// This organization's extension definitions (JSON text), oldest first.
    pub async fn list_scim_extensions(&self, org_id: &str) -> Result<Vec<String>> {
        self.read(async |tx| tx.values(DEFINITIONS, &[org_id.into()]).await)
            .await
    }

    /// Creates or replaces the extension `urn` (at most `limit` per organization); true when
    /// it was created. `check` judges the new definition against the organization's stored
    /// ones (JSON text), read in the same transaction with other changes to the
    /// organization's extensions held off, so two definitions made at once cannot both pass
    /// a check that either would fail after the other.
    pub async fn put_scim_extension(
        &self,
        org_id: &str,
        urn: &str,
        definition: &str,
        limit: usize,
        check: &(dyn Fn(&[String]) -> Result<()> + Sync),
        audit: &AuditEvent,
    ) -> Result<bool> {
        let key = urn.to_ascii_lowercase();
        self.write(async |tx| {
            lock_extensions(tx, org_id).await?;
            let stored: Vec<String> = tx.values(DEFINITIONS, &[org_id.into()]).await?;
            check(&stored)?;
            let exists = tx
                .exists(
                    "SELECT CAST(1 AS BIGINT) FROM scim_extensions WHERE org_id = $1 \
                     AND urn_key = $2",
                    &[org_id.into(), (&key).into()],
                )
                .await?;
            if !exists {
                let (count,): (i64,) = tx
                    .one(
                        "SELECT COUNT(*) FROM scim_extensions WHERE org_id = $1",
                        &[org_id.into()],
                    )
                    .await?;
                if usize::try_from(count).unwrap_or(usize::MAX) >= limit {
                    return Err(StoreError::Conflict(format!(
                        "an organization may define at most {limit} extension schemas"
                    )));
                }
            }
            tx.execute(
                "INSERT INTO scim_extensions (org_id, urn_key, definition, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (org_id, urn_key) \
                 DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
                &[org_id.into(), (&key).into(), definition.into(), now_ms().into()],
            )
            .await?;
            record_on(tx, audit, urn, Some(org_id)).await?;
            Ok(!exists)
        })
        .await
    }

    /// Deletes the extension `urn`. Values users hold under it stay in their documents but are
    /// no longer shown, filtered or accepted.
    pub async fn delete_scim_extension(
        &self,
        org_id: &str,
        urn: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.write(async |tx| {
            lock_extensions(tx, org_id).await?;
            tx.change(
                "DELETE FROM scim_extensions WHERE org_id = $1 AND urn_key = $2",
                &[org_id.into(), urn.to_ascii_lowercase().into()],
            )
            .await?;
            record_on(tx, audit, urn, Some(org_id)).await
        })
        .await
    }
}
