//! The audit log: one row per change or refusal, written in the transaction of the change.

use crate::db::{Bind, Stmt, Tx};
use crate::{AuditEvent, AuditRecord, Page, Result, Store};

const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (id, org_id, actor, action, target, outcome, detail, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The statement that files `event` under `org_id` (org-scoped changes pass their own, so no
/// event is misfiled).
pub(crate) fn audit_stmt(event: &AuditEvent, org_id: Option<&str>) -> Stmt {
    Stmt::new(
        INSERT_AUDIT,
        vec![
            Bind::Text(crate::new_id()),
            org_id.into(),
            event.actor.as_str().into(),
            event.action.as_str().into(),
            event.target.as_deref().into(),
            event.outcome.as_str().into(),
            Bind::Text(event.detail.to_string()),
            Bind::Int(crate::now_ms()),
        ],
    )
}

/// Appends `event` to the audit log on `tx`.
pub(crate) async fn record(
    tx: &mut Tx<'_>,
    event: &AuditEvent,
    org_id: Option<&str>,
) -> Result<()> {
    tx.run([audit_stmt(event, org_id)]).await
}

/// Appends `event` with `target` as its target unless it names one already.
pub(crate) async fn record_on(
    tx: &mut Tx<'_>,
    event: &AuditEvent,
    target: &str,
    org_id: Option<&str>,
) -> Result<()> {
    let mut event = event.clone();
    event.target.get_or_insert_with(|| target.to_string());
    record(tx, &event, org_id).await
}

impl Store {
    /// Writes an audit record on its own (for denied or failed actions, which change nothing else).
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        self.write(async |tx| record(tx, event, event.org_id.as_deref()).await)
            .await
    }

    /// One organization's audit records, newest first.
    pub async fn list_audit(
        &self,
        org_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Page<AuditRecord>> {
        self.read(async |tx| {
            let items = tx
                .all(
                    "SELECT id, seq, org_id, actor, action, target, outcome, detail, created_at \
                     FROM audit_log WHERE org_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3",
                    &[org_id.into(), limit.into(), offset.into()],
                )
                .await?;
            let (total,) = tx
                .one(
                    "SELECT COUNT(*) FROM audit_log WHERE org_id = $1",
                    &[org_id.into()],
                )
                .await?;
            Ok(Page { items, total })
        })
        .await
    }
}
