use std::collections::BTreeSet;

use crate::audit::insert_audit;
use crate::pool::{read, write};
use crate::{now_ms, AuditEvent, NewRole, Result, Role, RolePatch, Store, StoreError};

const ROLE_COLUMNS: &str = "id, org_id, name, description, permissions, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct RoleRow {
    id: String,
    org_id: String,
    name: String,
    description: String,
    permissions: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RoleRow> for Role {
    type Error = StoreError;
    fn try_from(row: RoleRow) -> Result<Role> {
        Ok(Role {
            id: row.id,
            org_id: row.org_id,
            name: row.name,
            description: row.description,
            permissions: serde_json::from_str(&row.permissions)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Role names compare case-insensitively: this is the key they are unique by.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Inserts a role of `$org_id` on `$ex`; evaluates to the new role's id.
macro_rules! insert_role {
    ($ex:expr, $org_id:expr, $role:expr, $now:expr) => {{
        let role: &$crate::NewRole = $role;
        let id = $crate::new_id();
        sqlx::query(
            "INSERT INTO roles (id, org_id, name, name_key, description, permissions, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind($org_id)
        .bind(&role.name)
        .bind($crate::roles::name_key(&role.name))
        .bind(&role.description)
        .bind(serde_json::to_string(&role.permissions)?)
        .bind($now)
        .execute($ex)
        .await
        .map(|_| id)
    }};
}
pub(crate) use insert_role;

impl Store {
    /// The roles of an organization, by name.
    pub async fn list_roles(&self, org_id: &str) -> Result<Vec<Role>> {
        let rows: Vec<RoleRow> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {ROLE_COLUMNS} FROM roles WHERE org_id = $1 ORDER BY name_key"
            ))
            .bind(org_id)
            .fetch_all(p)
            .await
        })?;
        rows.into_iter().map(Role::try_from).collect()
    }

    /// A role of this organization by id or by name (case-insensitive); an id match wins.
    pub async fn find_role(&self, org_id: &str, id_or_name: &str) -> Result<Option<Role>> {
        let row: Option<RoleRow> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {ROLE_COLUMNS} FROM roles WHERE org_id = $1 AND (id = $2 OR name_key = $3) \
                 ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1"
            ))
            .bind(org_id)
            .bind(id_or_name)
            .bind(name_key(id_or_name))
            .fetch_optional(p)
            .await
        })?;
        row.map(Role::try_from).transpose()
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
        let id = write!(self, |p| {
            let mut tx = p.begin().await?;
            let id = insert_role!(&mut *tx, org_id, role, now_ms())?;
            let mut audit = audit.clone();
            audit.target.get_or_insert_with(|| id.clone());
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            tx.commit().await?;
            id
        });
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
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let updated = sqlx::query(
                "UPDATE roles SET name = $1, name_key = $2, description = $3, permissions = $4, \
                 updated_at = $5 WHERE org_id = $6 AND id = $7",
            )
            .bind(name)
            .bind(name_key(name))
            .bind(description)
            .bind(&permissions)
            .bind(now_ms())
            .bind(org_id)
            .bind(&current.id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(&mut *tx, audit, Some(org_id))?;
            tx.commit().await?;
        });
        self.get_role(org_id, &current.id).await
    }

    /// Every permission held, through any role, by the users who hold role `id`: what changing
    /// that role touches.
    pub async fn role_holders_permissions(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<BTreeSet<String>> {
        let lists: Vec<String> = read!(self, |p| {
            sqlx::query_scalar(
                "SELECT DISTINCT r.permissions FROM user_roles held \
                 JOIN user_roles other ON other.user_id = held.user_id \
                 JOIN roles r ON r.id = other.role_id \
                 WHERE held.role_id = $2 AND r.org_id = $1",
            )
            .bind(org_id)
            .bind(id)
            .fetch_all(p)
            .await
        })?;
        permission_union(lists)
    }

    /// Deletes a role that no user holds, and audits it.
    pub async fn delete_role(&self, org_id: &str, id: &str, audit: &AuditEvent) -> Result<()> {
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let holders: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE r.org_id = $1 AND r.id = $2",
            )
            .bind(org_id)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if holders > 0 {
                return Err(StoreError::Conflict(format!(
                    "the role is held by {holders} user(s); take it from them first"
                )));
            }
            let deleted = sqlx::query("DELETE FROM roles WHERE org_id = $1 AND id = $2")
                .bind(org_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(&mut *tx, audit, Some(org_id))?;
            tx.commit().await?;
        });
        Ok(())
    }
}

/// The union of JSON permission lists as stored in `roles.permissions`.
pub(crate) fn permission_union(lists: Vec<String>) -> Result<BTreeSet<String>> {
    let mut all = BTreeSet::new();
    for list in lists {
        all.extend(serde_json::from_str::<Vec<String>>(&list)?);
    }
    Ok(all)
}
