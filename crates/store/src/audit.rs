use crate::pool::{read, write};
use crate::scim_sql::Bind;
use crate::{AuditEvent, AuditRecord, Page, Result, Store};

pub(crate) const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (id, org_id, actor, action, target, outcome, detail, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The parameters of [`INSERT_AUDIT`] for `event` filed under `org_id`.
pub(crate) fn audit_binds(event: &AuditEvent, org_id: Option<&str>) -> Vec<Bind> {
    vec![
        Bind::Text(crate::new_id()),
        org_id.into(),
        event.actor.as_str().into(),
        event.action.as_str().into(),
        event.target.as_deref().into(),
        event.outcome.as_str().into(),
        Bind::Text(event.detail.to_string()),
        Bind::Int(crate::now_ms()),
    ]
}

/// Appends one audit row on the executor `$ex` (a pool or an open transaction), for the
/// organization `$org_id` (org-scoped changes pass their own, so no event is misfiled).
macro_rules! insert_audit {
    ($ex:expr, $event:expr, $org_id:expr) => {{
        let event: &$crate::AuditEvent = $event;
        let org_id: Option<&str> = $org_id;
        sqlx::query($crate::audit::INSERT_AUDIT)
            .bind($crate::new_id())
            .bind(org_id)
            .bind(&event.actor)
            .bind(&event.action)
            .bind(&event.target)
            .bind(event.outcome.as_str())
            .bind(event.detail.to_string())
            .bind($crate::now_ms())
            .execute($ex)
            .await
            .map(|_| ())
    }};
}
pub(crate) use insert_audit;

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    seq: i64,
    org_id: Option<String>,
    actor: String,
    action: String,
    target: Option<String>,
    outcome: String,
    detail: String,
    created_at: i64,
}

impl Store {
    /// Writes an audit record on its own (for denied or failed actions, which change nothing else).
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        write!(self, |p| insert_audit!(p, event, event.org_id.as_deref()))?;
        Ok(())
    }

    /// One organization's audit records, newest first.
    pub async fn list_audit(
        &self,
        org_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Page<AuditRecord>> {
        let (rows, total): (Vec<AuditRow>, i64) = read!(self, |p| {
            let rows = sqlx::query_as(
                "SELECT id, seq, org_id, actor, action, target, outcome, detail, created_at \
                 FROM audit_log WHERE org_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3",
            )
            .bind(org_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE org_id = $1")
                .bind(org_id)
                .fetch_one(p)
                .await?;
            (rows, total)
        });
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.id,
                    seq: r.seq,
                    org_id: r.org_id,
                    actor: r.actor,
                    action: r.action,
                    target: r.target,
                    outcome: r.outcome,
                    detail: serde_json::from_str(&r.detail)?,
                    created_at: r.created_at,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Page { items, total })
    }
}
