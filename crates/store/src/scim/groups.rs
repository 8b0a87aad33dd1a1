//! Writing SCIM Groups and their members: the difference in members is applied row by row
//! under the group's lock, with an event per member added or removed.

use std::collections::BTreeSet;

use lanyard_scim::document::ResourceType;
use serde_json::{json, Value};

use super::rows::{member_ids, text, GroupRow, GROUP_COLUMNS};
use super::{member_event, ScimLink, ScimResource};
use crate::audit::record_on;
use crate::db::{Lock, Tx};
use crate::events::{event_stmts, EventOf};
use crate::{new_id, now_ms, AuditEvent, Result, Store, StoreError};

/// Adds one member; a user outside the organization is an invalid reference.
async fn add_member(tx: &mut Tx<'_>, org_id: &str, group_id: &str, user_id: &str) -> Result<()> {
    let added = tx
        .execute(
            "INSERT INTO group_members (group_id, user_id) SELECT $1, id FROM users \
             WHERE id = $2 AND org_id = $3 AND kind = 'human' ON CONFLICT DO NOTHING",
            &[group_id.into(), user_id.into(), org_id.into()],
        )
        .await?;
    if added != 1 {
        let exists = tx
            .exists(
                "SELECT CAST(1 AS BIGINT) FROM users WHERE id = $1 AND org_id = $2 \
                 AND kind = 'human'",
                &[user_id.into(), org_id.into()],
            )
            .await?;
        if !exists {
            return Err(StoreError::InvalidReference(format!(
                "member {user_id:?} is not a user of this organization"
            )));
        }
    }
    Ok(())
}

/// A group's members, in a stable order.
async fn group_links(tx: &mut Tx<'_>, group_id: &str) -> Result<Vec<ScimLink>> {
    tx.all(
        "SELECT u.id AS id, COALESCE(u.display_name, u.user_name) AS display \
         FROM group_members m JOIN users u ON u.id = m.user_id \
         WHERE m.group_id = $1 ORDER BY u.user_name_key, u.id",
        &[group_id.into()],
    )
    .await
}

/// Records one event about the group `group_id`.
async fn group_event(
    tx: &mut Tx<'_>,
    org_id: &str,
    kind: &str,
    group_id: &str,
    data: &Value,
) -> Result<()> {
    let event = EventOf {
        kind,
        resource_type: "Group",
        resource_id: group_id,
    };
    let stmts = event_stmts(tx.backend(), org_id, event, data)?;
    tx.run(stmts).await
}

/// Records a membership event for each member in `members`.
async fn member_events(
    tx: &mut Tx<'_>,
    org_id: &str,
    kind: &str,
    group: (&str, &str),
    members: &[&String],
) -> Result<()> {
    let (group_id, display_name) = group;
    for m in members {
        let data = member_event(group_id, display_name, m);
        group_event(tx, org_id, kind, group_id, &data).await?;
    }
    Ok(())
}

/// A group document as stored: without its members, which are rows of their own.
fn without_members(doc: &Value) -> Value {
    let mut stored = doc.clone();
    if let Some(obj) = stored.as_object_mut() {
        obj.remove("members");
    }
    stored
}

fn display_name_of(doc: &Value) -> Result<String> {
    text(doc.get("displayName"))
        .ok_or_else(|| StoreError::InvalidInput("displayName is required".into()))
}

impl Store {
    /// The ids of this organization's groups named (case-insensitively) in `names`: for a new
    /// user's groups as an IdP's assertion lists them. At most 100 names are looked at.
    pub async fn group_ids_named(&self, org_id: &str, names: &[String]) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for name in names.iter().take(100) {
            let found: Vec<String> = self
                .read(async |tx| {
                    tx.values(
                        "SELECT id FROM org_groups WHERE org_id = $1 AND display_name_key = $2",
                        &[org_id.into(), name.to_lowercase().into()],
                    )
                    .await
                })
                .await?;
            for id in found {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// Creates a group with the members its document lists (each must be a user of this
    /// organization, or nothing is created).
    pub async fn scim_create_group(
        &self,
        org_id: &str,
        doc: &Value,
        audit: &AuditEvent,
    ) -> Result<ScimResource> {
        let id = new_id();
        let now = now_ms();
        let display_name = display_name_of(doc)?;
        let members = member_ids(doc);
        let stored = without_members(doc);
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO org_groups (id, org_id, display_name, display_name_key, \
                 external_id, resource, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
                &[
                    (&id).into(),
                    org_id.into(),
                    (&display_name).into(),
                    display_name.to_lowercase().into(),
                    text(doc.get("externalId")).as_deref().into(),
                    serde_json::to_string(&stored)?.into(),
                    now.into(),
                ],
            )
            .await?;
            for m in &members {
                add_member(tx, org_id, &id, m).await?;
            }
            let record = ScimResource {
                id: id.clone(),
                resource: stored.clone(),
                links: group_links(tx, &id).await?,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            record_on(tx, audit, &id, Some(org_id)).await?;
            group_event(
                tx,
                org_id,
                "group.created",
                &id,
                &record.document(ResourceType::Group),
            )
            .await?;
            let added: Vec<&String> = members.iter().collect();
            member_events(
                tx,
                org_id,
                "group.member.added",
                (&id, &display_name),
                &added,
            )
            .await?;
            Ok(record)
        })
        .await
    }

    /// Changes a group like [`Store::scim_update_user`]; `change` sees the members too, and the
    /// difference in members is applied row by row under the group's lock.
    pub async fn scim_update_group<E>(
        &self,
        org_id: &str,
        id: &str,
        expected_version: Option<i64>,
        change: impl FnOnce(&Value) -> std::result::Result<Value, E>,
        audit: &AuditEvent,
    ) -> Result<std::result::Result<ScimResource, E>> {
        self.write(async |tx| {
            let select = format!(
                "SELECT {GROUP_COLUMNS}, CAST(NULL AS TEXT) AS links FROM org_groups r \
                 WHERE r.org_id = $1 AND r.id = $2{}",
                tx.lock(Lock::Update)
            );
            let GroupRow(mut current) = tx
                .optional(&select, &[org_id.into(), id.into()])
                .await?
                .ok_or(StoreError::NotFound)?;
            current.links = group_links(tx, id).await?;
            if expected_version.is_some_and(|expected| expected != current.version) {
                return Err(StoreError::VersionMismatch {
                    current: current.version,
                });
            }
            let mut before = current.resource.clone();
            if !current.links.is_empty() {
                before["members"] = current
                    .links
                    .iter()
                    .map(|l| json!({ "value": l.id }))
                    .collect();
            }
            let doc = match change(&before) {
                Ok(doc) => doc,
                Err(e) => return Ok(Err(e)),
            };
            Ok(Ok(
                apply_group_change(tx, org_id, current, &doc, audit).await?
            ))
        })
        .await
    }
}

/// Writes the group `current` as `doc` says: its attributes, and its members row by row.
async fn apply_group_change(
    tx: &mut Tx<'_>,
    org_id: &str,
    current: ScimResource,
    doc: &Value,
    audit: &AuditEvent,
) -> Result<ScimResource> {
    let id = current.id.as_str();
    let old: BTreeSet<String> = current.links.iter().map(|l| l.id.clone()).collect();
    let new_members = member_ids(doc);
    let new: BTreeSet<String> = new_members.iter().cloned().collect();
    let stored = without_members(doc);
    let attrs_changed = stored != current.resource;
    if !attrs_changed && old == new {
        return Ok(current);
    }
    let display_name = display_name_of(doc)?;
    let added: Vec<&String> = new_members.iter().filter(|m| !old.contains(*m)).collect();
    let removed: Vec<&String> = old.difference(&new).collect();
    for m in &added {
        add_member(tx, org_id, id, m).await?;
    }
    for m in &removed {
        tx.execute(
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
            &[id.into(), (*m).into()],
        )
        .await?;
    }
    let now = now_ms().max(current.updated_at);
    tx.execute(
        "UPDATE org_groups SET display_name = $1, display_name_key = $2, external_id = $3, \
         resource = $4, version = version + 1, updated_at = $5 WHERE org_id = $6 AND id = $7",
        &[
            (&display_name).into(),
            display_name.to_lowercase().into(),
            text(doc.get("externalId")).as_deref().into(),
            serde_json::to_string(&stored)?.into(),
            now.into(),
            org_id.into(),
            id.into(),
        ],
    )
    .await?;
    let updated = ScimResource {
        id: id.to_string(),
        resource: stored,
        links: group_links(tx, id).await?,
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: now,
    };
    record_on(tx, audit, id, Some(org_id)).await?;
    if attrs_changed {
        group_event(
            tx,
            org_id,
            "group.updated",
            id,
            &updated.document(ResourceType::Group),
        )
        .await?;
    }
    let group = (id, display_name.as_str());
    member_events(tx, org_id, "group.member.added", group, &added).await?;
    member_events(tx, org_id, "group.member.removed", group, &removed).await?;
    Ok(updated)
}
