use std::collections::BTreeSet;

use crate::audit::insert_audit;
use crate::pool::{read, write};
use crate::scim::{email_stmts, lookup_emails, replace_email_stmts, run_stmts};
use crate::{
    new_id, now_ms, AuditEvent, NewUser, Page, Result, RoleRef, Store, StoreError, User, UserKind,
    UserPatch, UserQuery,
};

const USER_COLUMNS: &str = "id, org_id, user_name, email, given_name, family_name, display_name, \
     active, external_id, kind, attributes, password_hash, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    org_id: String,
    user_name: String,
    email: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    display_name: Option<String>,
    active: bool,
    external_id: Option<String>,
    kind: String,
    attributes: String,
    password_hash: Option<String>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct UserRoleRow {
    user_id: String,
    id: String,
    name: String,
}

impl UserRow {
    fn into_user(self, roles: &[UserRoleRow]) -> Result<User> {
        Ok(User {
            roles: roles
                .iter()
                .filter(|r| r.user_id == self.id)
                .map(|r| RoleRef {
                    id: r.id.clone(),
                    name: r.name.clone(),
                })
                .collect(),
            kind: UserKind::parse(&self.kind)?,
            attributes: serde_json::from_str(&self.attributes)?,
            has_password: self.password_hash.is_some(),
            id: self.id,
            org_id: self.org_id,
            user_name: self.user_name,
            email: self.email,
            given_name: self.given_name,
            family_name: self.family_name,
            display_name: self.display_name,
            active: self.active,
            external_id: self.external_id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// User names compare case-insensitively (as SCIM's `userName` does): this is the unique key.
fn user_name_key(user_name: &str) -> String {
    user_name.to_lowercase()
}

/// Gives `$user_id` exactly the roles `$role_ids` on `$tx`; a role outside `$org_id` is refused.
macro_rules! set_user_roles {
    ($tx:expr, $org_id:expr, $user_id:expr, $role_ids:expr) => {{
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind($user_id)
            .execute(&mut *$tx)
            .await?;
        let unique: BTreeSet<&String> = $role_ids.iter().collect();
        for role_id in unique {
            let added = sqlx::query(
                "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles \
                 WHERE id = $2 AND org_id = $3",
            )
            .bind($user_id)
            .bind(role_id)
            .bind($org_id)
            .execute(&mut *$tx)
            .await?;
            if added.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!(
                    "role {role_id} does not exist"
                )));
            }
        }
    }};
}

impl Store {
    /// Creates a user with roles and audits it, atomically.
    pub async fn create_user(
        &self,
        org_id: &str,
        new: &NewUser,
        audit: &AuditEvent,
    ) -> Result<User> {
        let id = new_id();
        let now = now_ms();
        let attributes = serde_json::to_string(&new.attributes)?;
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| id.clone());
        write!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(&format!(
                "INSERT INTO users ({USER_COLUMNS}, user_name_key) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13, $14)"
            ))
            .bind(&id)
            .bind(org_id)
            .bind(&new.user_name)
            .bind(&new.email)
            .bind(&new.given_name)
            .bind(&new.family_name)
            .bind(&new.display_name)
            .bind(new.active)
            .bind(&new.external_id)
            .bind(new.kind.as_str())
            .bind(&attributes)
            .bind(&new.password_hash)
            .bind(now)
            .bind(user_name_key(&new.user_name))
            .execute(&mut *tx)
            .await?;
            set_user_roles!(tx, org_id, &id, &new.role_ids);
            // `emails.value eq` finds admin-made users by their address too.
            let emails = lookup_emails("{}", new.email.as_deref());
            run_stmts!(tx, email_stmts(org_id, &id, &emails));
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            tx.commit().await?;
        });
        self.get_user(org_id, &id).await
    }

    /// A user of this organization by id.
    pub async fn find_user(&self, org_id: &str, id: &str) -> Result<Option<User>> {
        self.find_user_where(org_id, "id = $2", id).await
    }

    /// A user of this organization by user name (case-insensitive).
    pub async fn find_user_by_name(&self, org_id: &str, user_name: &str) -> Result<Option<User>> {
        self.find_user_where(org_id, "user_name_key = $2", &user_name_key(user_name))
            .await
    }

    async fn find_user_where(
        &self,
        org_id: &str,
        condition: &str,
        value: &str,
    ) -> Result<Option<User>> {
        let found: Option<(UserRow, Vec<UserRoleRow>)> = read!(self, |p| {
            let row: Option<UserRow> = sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 AND {condition}"
            ))
            .bind(org_id)
            .bind(value)
            .fetch_optional(p)
            .await?;
            match row {
                None => None,
                Some(row) => {
                    let roles = sqlx::query_as(
                        "SELECT ur.user_id, r.id, r.name FROM user_roles ur \
                         JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1 ORDER BY r.name_key",
                    )
                    .bind(&row.id)
                    .fetch_all(p)
                    .await?;
                    Some((row, roles))
                }
            }
        });
        found.map(|(row, roles)| row.into_user(&roles)).transpose()
    }

    /// Like [`Store::find_user`], but a missing user is [`StoreError::NotFound`].
    pub async fn get_user(&self, org_id: &str, id: &str) -> Result<User> {
        self.find_user(org_id, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// A page of an organization's users, ordered by user name.
    pub async fn list_users(&self, org_id: &str, query: &UserQuery) -> Result<Page<User>> {
        let kind = query.kind.map(UserKind::as_str);
        // `$2 IS NULL` keeps one statement for "any kind" and "this kind"; PostgreSQL needs the
        // parameter's type spelled out there.
        let filter = "org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR kind = $2)";
        let (rows, roles, total): (Vec<UserRow>, Vec<UserRoleRow>, i64) = read!(self, |p| {
            let rows = sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE {filter} \
                 ORDER BY user_name_key, id LIMIT $3 OFFSET $4"
            ))
            .bind(org_id)
            .bind(kind)
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(p)
            .await?;
            let roles = sqlx::query_as(&format!(
                "SELECT ur.user_id, r.id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE ur.user_id IN (SELECT id FROM users WHERE {filter} \
                 ORDER BY user_name_key, id LIMIT $3 OFFSET $4) ORDER BY r.name_key"
            ))
            .bind(org_id)
            .bind(kind)
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(p)
            .await?;
            let total = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM users WHERE {filter}"))
                .bind(org_id)
                .bind(kind)
                .fetch_one(p)
                .await?;
            (rows, roles, total)
        });
        let items = rows
            .into_iter()
            .map(|row| row.into_user(&roles))
            .collect::<Result<_>>()?;
        Ok(Page { items, total })
    }

    /// Applies a patch to a user, bumps its version and audits it, atomically. With
    /// `expected_version`, a user changed since is refused with [`StoreError::VersionMismatch`].
    pub async fn update_user(
        &self,
        org_id: &str,
        id: &str,
        patch: &UserPatch,
        expected_version: Option<i64>,
        audit: &AuditEvent,
    ) -> Result<User> {
        let current: UserRow = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 AND id = $2"
            ))
            .bind(org_id)
            .bind(id)
            .fetch_optional(p)
            .await
        })?
        .ok_or(StoreError::NotFound)?;
        if let Some(expected) = expected_version {
            if expected != current.version {
                return Err(StoreError::VersionMismatch {
                    current: current.version,
                });
            }
        }
        let pick = |new: &Option<Option<String>>, old: &Option<String>| match new {
            Some(v) => v.clone(),
            None => old.clone(),
        };
        let user_name = patch.user_name.as_ref().unwrap_or(&current.user_name);
        let attributes = match &patch.attributes {
            Some(a) => serde_json::to_string(a)?,
            None => current.attributes.clone(),
        };
        write!(self, |p| {
            let mut tx = p.begin().await?;
            // The version in the WHERE clause makes this an optimistic lock: a concurrent change
            // between the read above and this write is detected, not overwritten.
            let updated = sqlx::query(
                "UPDATE users SET user_name = $1, user_name_key = $2, email = $3, given_name = $4, \
                 family_name = $5, display_name = $6, active = $7, external_id = $8, attributes = $9, \
                 password_hash = $10, version = version + 1, updated_at = $11 \
                 WHERE org_id = $12 AND id = $13 AND version = $14",
            )
            .bind(user_name)
            .bind(user_name_key(user_name))
            .bind(pick(&patch.email, &current.email))
            .bind(pick(&patch.given_name, &current.given_name))
            .bind(pick(&patch.family_name, &current.family_name))
            .bind(pick(&patch.display_name, &current.display_name))
            .bind(patch.active.unwrap_or(current.active))
            .bind(pick(&patch.external_id, &current.external_id))
            .bind(&attributes)
            .bind(pick(&patch.password_hash, &current.password_hash))
            .bind(now_ms())
            .bind(org_id)
            .bind(id)
            .bind(current.version)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                let now: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM users WHERE org_id = $1 AND id = $2")
                        .bind(org_id)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(match now {
                    Some(current) => StoreError::VersionMismatch { current },
                    None => StoreError::NotFound,
                });
            }
            if let Some(role_ids) = &patch.role_ids {
                set_user_roles!(tx, org_id, id, role_ids);
            }
            // The version check above makes this the change that deactivated them.
            if current.active && patch.active == Some(false) {
                run_stmts!(tx, crate::signin::end_sign_in_stmts(id));
            }
            if let Some(email) = &patch.email {
                let resource: String =
                    sqlx::query_scalar("SELECT resource FROM users WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                let emails = lookup_emails(&resource, email.as_deref());
                run_stmts!(tx, replace_email_stmts(org_id, id, &emails));
            }
            insert_audit!(&mut *tx, audit, Some(org_id))?;
            tx.commit().await?;
        });
        self.get_user(org_id, id).await
    }

    /// Deletes a user (with its role grants and access keys) and audits it, atomically.
    pub async fn delete_user(&self, org_id: &str, id: &str, audit: &AuditEvent) -> Result<()> {
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let deleted = sqlx::query("DELETE FROM users WHERE org_id = $1 AND id = $2")
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

    /// The union of the permissions of a user's roles.
    pub async fn user_permissions(&self, org_id: &str, user_id: &str) -> Result<BTreeSet<String>> {
        let lists: Vec<String> = read!(self, |p| {
            sqlx::query_scalar(
                "SELECT r.permissions FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE ur.user_id = $1 AND r.org_id = $2",
            )
            .bind(user_id)
            .bind(org_id)
            .fetch_all(p)
            .await
        })?;
        crate::roles::permission_union(lists)
    }
}
