//! What every issued credential (operator keys, access keys, SCIM tokens) shares: revocation
//! that keeps the first time, and a last-used time written at most once a minute.

use crate::audit::record;
use crate::{now_ms, AuditEvent, Result, Store};

/// `last_used_at` is written at most this often per key, so authenticated reads stay reads.
pub const LAST_USED_GRANULARITY_MS: i64 = 60_000;

impl Store {
    /// Sets `revoked_at` (keeping an earlier one) on the row of `table` matching every
    /// `column = value` in `matching`, and audits it in the same transaction; no such row is
    /// [`crate::StoreError::NotFound`].
    pub(crate) async fn revoke(
        &self,
        table: &'static str,
        matching: &[(&'static str, &str)],
        org_id: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<()> {
        let conditions: Vec<String> = matching
            .iter()
            .enumerate()
            .map(|(i, (column, _))| format!("{column} = ${}", i + 2))
            .collect();
        let sql = format!(
            "UPDATE {table} SET revoked_at = COALESCE(revoked_at, $1) WHERE {}",
            conditions.join(" AND ")
        );
        let mut binds = vec![now_ms().into()];
        binds.extend(matching.iter().map(|(_, value)| (*value).into()));
        self.write(async |tx| {
            tx.change(&sql, &binds).await?;
            record(tx, audit, org_id).await
        })
        .await
    }

    /// Records that the credential `id` of `table` was used, unless it was recorded recently.
    pub(crate) async fn touch(
        &self,
        table: &'static str,
        id: &str,
        last_used_at: Option<i64>,
    ) -> Result<()> {
        let now = now_ms();
        if last_used_at.is_some_and(|t| now - t < LAST_USED_GRANULARITY_MS) {
            return Ok(());
        }
        let sql = format!("UPDATE {table} SET last_used_at = $1 WHERE id = $2");
        self.write(async |tx| tx.execute(&sql, &[now.into(), id.into()]).await)
            .await?;
        Ok(())
    }
}
