//! The provisioning event outbox: a row per change, written in the transaction of the change,
//! read by the product through a cursor.

use serde_json::Value;

use crate::db::{Bind, Record, Serial, Stmt};
use crate::{new_id, now_ms, Backend, Result, Store};

/// A change recorded in the outbox.
#[derive(Debug, Clone, PartialEq, Record)]
pub struct Event {
    /// The cursor: increases with every event of an organization.
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub resource_type: String,
    pub resource_id: String,
    /// The resource after the change (for deletions, what identified it).
    #[record(json)]
    pub data: Value,
    pub created_at: i64,
}

const INSERT_EVENT: &str = "INSERT INTO events (id, org_id, kind, resource_type, resource_id, \
     data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// What one event says: its kind and the resource it is about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventOf<'a> {
    pub(crate) kind: &'a str,
    pub(crate) resource_type: &'a str,
    pub(crate) resource_id: &'a str,
}

/// The statements that record an event in the outbox. On PostgreSQL the organization's outbox
/// lock, held to commit, comes first: events then commit in `seq` order, so a reader following
/// the cursor never skips one that commits late.
pub(crate) fn event_stmts(
    backend: Backend,
    org_id: &str,
    event: EventOf<'_>,
    data: &Value,
) -> Result<Vec<Stmt>> {
    let mut stmts = Vec::with_capacity(2);
    if backend == Backend::Postgres {
        stmts.push(Serial::Outbox(org_id).stmt());
    }
    stmts.push(Stmt::new(
        INSERT_EVENT,
        vec![
            Bind::Text(new_id()),
            org_id.into(),
            event.kind.into(),
            event.resource_type.into(),
            event.resource_id.into(),
            Bind::Text(serde_json::to_string(data)?),
            Bind::Int(now_ms()),
        ],
    ));
    Ok(stmts)
}

impl Store {
    /// This organization's events after the cursor `after` (0 for the first), oldest first.
    pub async fn list_events(&self, org_id: &str, after: i64, limit: i64) -> Result<Vec<Event>> {
        self.read(async |tx| {
            tx.all(
                "SELECT seq, id, kind, resource_type, resource_id, data, created_at FROM events \
                 WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[org_id.into(), after.into(), limit.into()],
            )
            .await
        })
        .await
    }
}
