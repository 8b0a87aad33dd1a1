//! Organizations' SCIM extension schemas, kept as the JSON definitions the admin API checked.
//! The store does not read them: `lanyard_scim::extension` does.

use crate::audit::insert_audit;
use crate::pool::{read, write};
use crate::{now_ms, AuditEvent, Backend, Result, Store, StoreError};

const DEFINITIONS: &str =
    "SELECT definition FROM scim_extensions WHERE org_id = $1 ORDER BY created_at, urn_key";

impl Store {
    /// This organization's extension definitions (JSON text), oldest first.
    pub async fn list_scim_extensions(&self, org_id: &str) -> Result<Vec<String>> {
        Ok(read!(self, |p| {
            sqlx::query_scalar(DEFINITIONS)
                .bind(org_id)
                .fetch_all(p)
                .await?
        }))
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
        let now = now_ms();
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| urn.to_string());
        let backend = self.backend();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            lock_extensions(backend, &mut tx, org_id).await?;
            let stored: Vec<String> = sqlx::query_scalar(DEFINITIONS)
                .bind(org_id)
                .fetch_all(&mut *tx)
                .await?;
            check(&stored)?;
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM scim_extensions WHERE org_id = $1 AND urn_key = $2",
            )
            .bind(org_id)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
            if exists.is_none() {
                let count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM scim_extensions WHERE org_id = $1")
                        .bind(org_id)
                        .fetch_one(&mut *tx)
                        .await?;
                if usize::try_from(count).unwrap_or(usize::MAX) >= limit {
                    return Err(StoreError::Conflict(format!(
                        "an organization may define at most {limit} extension schemas"
                    )));
                }
            }
            sqlx::query(
                "INSERT INTO scim_extensions (org_id, urn_key, definition, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (org_id, urn_key) \
                 DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
            )
            .bind(org_id)
            .bind(&key)
            .bind(definition)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            tx.commit().await?;
            Ok(exists.is_none())
        })
    }

    /// Deletes the extension `urn`. Values users hold under it stay in their documents but are
    /// no longer shown, filtered or accepted.
    pub async fn delete_scim_extension(
        &self,
        org_id: &str,
        urn: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| urn.to_string());
        let backend = self.backend();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            lock_extensions(backend, &mut tx, org_id).await?;
            let done =
                sqlx::query("DELETE FROM scim_extensions WHERE org_id = $1 AND urn_key = $2")
                    .bind(org_id)
                    .bind(urn.to_ascii_lowercase())
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            tx.commit().await?;
            Ok(())
        })
    }
}

/// Holds off other changes to the organization's extensions until `tx` ends. On SQLite the
/// store's single write lock already does. On PostgreSQL an advisory lock per organization,
/// taken before anything is read: under READ COMMITTED (sqlx's default, which the outbox lock
/// also relies on) every later statement of `tx` sees what the previous holder committed.
async fn lock_extensions<DB>(
    backend: Backend,
    tx: &mut sqlx::Transaction<'_, DB>,
    org_id: &str,
) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("scim_extensions:{org_id}"))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
