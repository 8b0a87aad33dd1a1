//! Roles: named sets of permissions an organization gives its users.

use std::collections::BTreeSet;

use crate::audit::{record, record_on};
use crate::db::Tx;
use crate::{now_ms, AuditEvent, NewRole, Result, Role, RolePatch, Store, StoreError};

const ROLE_COLUMNS: &str = "id, org_id, name, description, permissions, created_at, updated_at";

/// Role names compare case-insensitively: this is the key they are unique by.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Inserts a role of `org_id`; returns its id.
pub(crate) async fn insert_role(
    tx: &mut Tx<'_>,
    org_id: &str,
    role: &NewRole,
    now: i64,
) -> Result<String> {
    let id = crate::new_id();
    tx.execute(
        "INSERT INTO roles (id, org_id, name, name_key, description, permissions, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        &[
            (&id).into(),
            org_id.into(),
            (&role.name).into(),
            name_key(&role.name).into(),
            (&role.description).into(),
            serde_json::to_string(&role.permissions)?.into(),
            now.into(),
        ],
    )
    .await?;
    Ok(id)
}

/// The union of JSON permission lists as stored in `roles.permissions`.
pub(crate) fn permission_union(lists: Vec<String>) -> Result<BTreeSet<String>> {
    let mut all = BTreeSet::new();
    for list in lists {
        all.extend(serde_json::from_str::<Vec<String>>(&list)?);
    }
    Ok(all)
}

impl Store {
    /// The roles of an organization, by name.
    /// The users of `org_id` holding any of the roles `role_ids`.
    pub async fn users_with_roles(
        &self,
        org_id: &str,
        role_ids: &[String],
    ) -> Result<BTreeSet<String>> {
        let mut users = BTreeSet::new();
        for role_id in role_ids {
            let ids: Vec<String> = self
                .read(async |tx| {
                    tx.values(
                        "SELECT ur.user_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                         WHERE r.org_id = $1 AND r.id = $2",
                        &[org_id.into(), role_id.into()],
                    )
                    .await
                })
                .await?;
            users.extend(ids);
        }
        Ok(users)
    }

    pub async fn list_roles(&self, org_id: &str) -> Result<Vec<Role>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE org_id = $1 ORDER BY name_key");
        self.read(async |tx| tx.all(&sql, &[org_id.into()]).await)
            .await
    }

    /// A role of this organization by id or by name (case-insensitive); an id match wins.
    pub async fn find_role(&self, org_id: &str, id_or_name: &str) -> Result<Option<Role>> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE org_id = $1 AND (id = $2 OR name_key = $3) \
             ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1"
        );
        let binds = [
            org_id.into(),
            id_or_name.into(),
            name_key(id_or_name).into(),
        ];
        self.read(async |tx| tx.optional(&sql, &binds).await).await
    }

    /// Like [`Store::find_role`], but a missing role is [`StoreError::NotFound`].
    pub async fn get_role(&self, org_id: &str, id_or_name: &str) -> Result<Role> {
        self.find_role(org_id, id_or_name)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Creates a role and audits it, atomically.
    pub async fn create_role(
        &self,
        org_id: &str,
        role: &NewRole,
        audit: &AuditEvent,
    ) -> Result<Role> {
        let id = self
            .write(async |tx| {
                let id = insert_role(tx, org_id, role, now_ms()).await?;
                record_on(tx, audit, &id, Some(org_id)).await?;
                Ok(id)
            })
            .await?;
        self.get_role(org_id, &id).await
    }

    /// Applies a patch to a role and audits it, atomically.
    pub async fn update_role(
        &self,
        org_id: &str,
        id: &str,
        patch: &RolePatch,
        audit: &AuditEvent,
    ) -> Result<Role> {
        let current = self.get_role(org_id, id).await?;
        let name = patch.name.as_ref().unwrap_or(&current.name);
        let description = patch.description.as_ref().unwrap_or(&current.description);
        let permissions =
            serde_json::to_string(patch.permissions.as_ref().unwrap_or(&current.permissions))?;
        self.write(async |tx| {
            tx.change(
                "UPDATE roles SET name = $1, name_key = $2, description = $3, permissions = $4, \
                 updated_at = $5 WHERE org_id = $6 AND id = $7",
                &[
                    name.into(),
                    name_key(name).into(),
                    description.into(),
                    permissions.into(),
                    now_ms().into(),
                    org_id.into(),
                    (&current.id).into(),
                ],
            )
            .await?;
            record(tx, audit, Some(org_id)).await
        })
        .await?;
        self.get_role(org_id, &current.id).await
    }

    /// Every permission held, through any role, by the users who hold role `id`: what changing
    /// that role touches.
    pub async fn role_holders_permissions(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<BTreeSet<String>> {
        let lists = self
            .read(async |tx| {
                tx.values(
                    "SELECT DISTINCT r.permissions FROM user_roles held \
                     JOIN user_roles other ON other.user_id = held.user_id \
                     JOIN roles r ON r.id = other.role_id \
                     WHERE held.role_id = $2 AND r.org_id = $1",
                    &[org_id.into(), id.into()],
                )
                .await
            })
            .await?;
        permission_union(lists)
    }

    /// Deletes a role that no user holds, and audits it.
    pub async fn delete_role(&self, org_id: &str, id: &str, audit: &AuditEvent) -> Result<()> {
        self.write(async |tx| {
            let (holders,): (i64,) = tx
                .one(
                    "SELECT COUNT(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                     WHERE r.org_id = $1 AND r.id = $2",
                    &[org_id.into(), id.into()],
                )
                .await?;
            if holders > 0 {
                return Err(StoreError::Conflict(format!(
                    "the role is held by {holders} user(s); take it from them first"
                )));
            }
            tx.change(
                "DELETE FROM roles WHERE org_id = $1 AND id = $2",
                &[org_id.into(), id.into()],
            )
            .await?;
            record(tx, audit, Some(org_id)).await
        })
        .await
    }
}
