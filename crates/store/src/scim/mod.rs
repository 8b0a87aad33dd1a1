//! SCIM Users and Groups: each resource's SCIM document, the columns kept in step with it, group
//! memberships, and the outbox event written in the same transaction as every change.
//!
//! Changes go through a closure that receives the stored document and returns the new one (the
//! PATCH engine or a PUT body, in the server), called inside the transaction after the row is
//! locked — `FOR UPDATE` on PostgreSQL, the single writer on SQLite — so concurrent PATCHes of one
//! group's members serialise instead of losing each other's members.

mod filter;
mod groups;
mod query;
mod rows;
mod users;

use lanyard_scim::filter::{AttrPath, Filter};
use lanyard_scim::messages::SortOrder;
use serde_json::{json, Value};

use crate::audit::record_on;
use crate::db::{Lock, Table};
use crate::events::{event_stmts, EventOf};
use crate::{AuditEvent, Result, Store, StoreError};

pub use lanyard_scim::document::{rfc3339, Link as ScimLink, Stored as ScimResource};

/// One page of a filtered, sorted list.
#[derive(Debug, Clone)]
pub struct ScimQuery<'a> {
    pub filter: Option<&'a Filter>,
    pub sort: Option<(&'a AttrPath, SortOrder)>,
    /// 0-based.
    pub offset: u64,
    pub count: u64,
    /// Whether to read each resource's groups or members (skipped when they are not returned).
    pub links: bool,
}

/// A page of resources and how many match in all.
#[derive(Debug, Clone)]
pub struct ScimList {
    pub resources: Vec<ScimResource>,
    pub total: u64,
}

/// A membership event names the group and the member only: a group of n members changed one
/// member at a time must not write n copies of the whole group.
fn member_event(group_id: &str, display_name: &str, member: &str) -> Value {
    json!({
        "group": { "id": group_id, "displayName": display_name },
        "member": { "value": member },
    })
}

impl Store {
    /// Deletes a provisioned user (its memberships, roles and keys go with it).
    pub async fn scim_delete_user(
        &self,
        org_id: &str,
        id: &str,
        expected_version: Option<i64>,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.scim_delete(org_id, id, expected_version, audit, Table::Users)
            .await
    }

    /// Deletes a group (its memberships go with it; the users stay).
    pub async fn scim_delete_group(
        &self,
        org_id: &str,
        id: &str,
        expected_version: Option<i64>,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.scim_delete(org_id, id, expected_version, audit, Table::Groups)
            .await
    }

    async fn scim_delete(
        &self,
        org_id: &str,
        id: &str,
        expected_version: Option<i64>,
        audit: &AuditEvent,
        table: Table,
    ) -> Result<()> {
        let (sql_table, extra, kind, resource_type) = match table {
            Table::Users => ("users", " AND kind = 'human'", "user.deleted", "User"),
            Table::Groups => ("org_groups", "", "group.deleted", "Group"),
        };
        self.write(async |tx| {
            let backend = tx.backend();
            let sql = format!(
                "SELECT version FROM {sql_table} WHERE org_id = $1 AND id = $2{extra}{}",
                tx.lock(Lock::Update)
            );
            let version: i64 = tx
                .value(&sql, &[org_id.into(), id.into()])
                .await?
                .ok_or(StoreError::NotFound)?;
            if expected_version.is_some_and(|v| v != version) {
                return Err(StoreError::VersionMismatch { current: version });
            }
            // A deleted user leaves its groups: say so, as a PATCH removing it would.
            let left: Vec<(String, String)> = if table == Table::Users {
                tx.all(
                    "SELECT g.id, g.display_name FROM group_members m \
                     JOIN org_groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.id",
                    &[id.into()],
                )
                .await?
            } else {
                Vec::new()
            };
            tx.execute(
                &format!("DELETE FROM {sql_table} WHERE org_id = $1 AND id = $2"),
                &[org_id.into(), id.into()],
            )
            .await?;
            record_on(tx, audit, id, Some(org_id)).await?;
            for (group_id, display_name) in &left {
                let event = EventOf {
                    kind: "group.member.removed",
                    resource_type: "Group",
                    resource_id: group_id,
                };
                let data = member_event(group_id, display_name, id);
                tx.run(event_stmts(backend, org_id, event, &data)?).await?;
            }
            let event = EventOf {
                kind,
                resource_type,
                resource_id: id,
            };
            tx.run(event_stmts(backend, org_id, event, &json!({ "id": id }))?)
                .await
        })
        .await
    }
}
