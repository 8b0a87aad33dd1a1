//! The audit log: one row per change or refusal, written in the transaction of the change.

use crate::db::{Bind, Stmt, Tx};
use crate::{AuditEvent, AuditFilter, AuditRecord, Page, Result, Store};

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

    /// One organization's audit records that `filter` admits, newest first.
    pub async fn list_audit(
        &self,
        org_id: &str,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Page<AuditRecord>> {
        let action = filter.action.as_deref().map(|a| match a.strip_suffix('.') {
            Some(prefix) => format!("{}.%", crate::db::like_escape(prefix)),
            None => crate::db::like_escape(a),
        });
        // One statement for every combination: an unset filter is a NULL that admits all.
        let filter_sql = "org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR actor = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR action LIKE $3 ESCAPE '\\') \
             AND (CAST($4 AS TEXT) IS NULL OR target = $4) \
             AND (CAST($5 AS BIGINT) IS NULL OR created_at >= $5) \
             AND (CAST($6 AS BIGINT) IS NULL OR created_at < $6)";
        let mut binds: Vec<Bind> = vec![
            org_id.into(),
            filter.actor.as_deref().into(),
            action.as_deref().into(),
            filter.target.as_deref().into(),
            filter.since.into(),
            filter.until.into(),
        ];
        let items_sql = format!(
            "SELECT id, seq, org_id, actor, action, target, outcome, detail, created_at \
             FROM audit_log WHERE {filter_sql} ORDER BY seq DESC LIMIT $7 OFFSET $8"
        );
        let count_sql = format!("SELECT COUNT(*) FROM audit_log WHERE {filter_sql}");
        self.read(async |tx| {
            let (total,) = tx.one(&count_sql, &binds).await?;
            binds.extend([limit.into(), offset.into()]);
            let items = tx.all(&items_sql, &binds).await?;
            Ok(Page { items, total })
        })
        .await
    }
}
