//! Users as the admin API sees them: people and service accounts, with their roles.

use std::collections::BTreeSet;

use crate::audit::{record, record_on};
use crate::db::{Bind, Columns, Record, Tx};
use crate::issuance::end_sign_in_stmts;
use crate::user_emails::{email_stmts, lookup_emails, replace_email_stmts};
use crate::{
    new_id, now_ms, AuditEvent, NewUser, Page, Result, RoleRef, Store, StoreError, User, UserKind,
    UserPatch, UserQuery,
};

const USER_COLUMNS: &str = "id, org_id, user_name, email, given_name, family_name, display_name, \
     active, external_id, kind, attributes, password_hash, version, created_at, updated_at";

/// A user's row as stored: the password hash stays here, the user only says whether there is
/// one.
struct UserRow {
    user: User,
    password_hash: Option<String>,
    attributes: String,
}

impl Record for UserRow {
    fn read(row: &impl Columns) -> Result<Self> {
        let attributes: String = row.get("attributes")?;
        let password_hash: Option<String> = row.get("password_hash")?;
        Ok(UserRow {
            user: User {
                id: row.get("id")?,
                org_id: row.get("org_id")?,
                user_name: row.get("user_name")?,
                email: row.get("email")?,
                given_name: row.get("given_name")?,
                family_name: row.get("family_name")?,
                display_name: row.get("display_name")?,
                active: row.get("active")?,
                external_id: row.get("external_id")?,
                kind: UserKind::parse(&row.get::<String>("kind")?)?,
                attributes: serde_json::from_str(&attributes)?,
                has_password: password_hash.is_some(),
                roles: Vec::new(),
                version: row.get("version")?,
                created_at: row.get("created_at")?,
                updated_at: row.get("updated_at")?,
            },
            password_hash,
            attributes,
        })
    }
}

/// A role a user holds: `(user_id, role id, role name)`.
type UserRole = (String, String, String);

fn with_roles(mut user: User, roles: &[UserRole]) -> User {
    user.roles = roles
        .iter()
        .filter(|(user_id, _, _)| *user_id == user.id)
        .map(|(_, id, name)| RoleRef {
            id: id.clone(),
            name: name.clone(),
        })
        .collect();
    user
}

/// User names compare case-insensitively (as SCIM's `userName` does): this is the unique key.
fn user_name_key(user_name: &str) -> String {
    user_name.to_lowercase()
}

/// Gives `user_id` exactly the roles `role_ids`; a role outside `org_id` is refused.
async fn set_user_roles(
    tx: &mut Tx<'_>,
    org_id: &str,
    user_id: &str,
    role_ids: &[String],
) -> Result<()> {
    tx.execute(
        "DELETE FROM user_roles WHERE user_id = $1",
        &[user_id.into()],
    )
    .await?;
    let unique: BTreeSet<&String> = role_ids.iter().collect();
    for role_id in unique {
        let added = tx
            .execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles \
                 WHERE id = $2 AND org_id = $3",
                &[user_id.into(), role_id.into(), org_id.into()],
            )
            .await?;
        if added != 1 {
            return Err(StoreError::Conflict(format!(
                "role {role_id} does not exist"
            )));
        }
    }
    Ok(())
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
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}, user_name_key) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13, $14)"
        );
        let binds = [
            (&id).into(),
            org_id.into(),
            (&new.user_name).into(),
            (&new.email).into(),
            (&new.given_name).into(),
            (&new.family_name).into(),
            (&new.display_name).into(),
            new.active.into(),
            (&new.external_id).into(),
            new.kind.as_str().into(),
            serde_json::to_string(&new.attributes)?.into(),
            (&new.password_hash).into(),
            now_ms().into(),
            user_name_key(&new.user_name).into(),
        ];
        // `emails.value eq` finds admin-made users by their address too.
        let emails = lookup_emails("{}", new.email.as_deref());
        self.write(async |tx| {
            tx.execute(&sql, &binds).await?;
            set_user_roles(tx, org_id, &id, &new.role_ids).await?;
            tx.run(email_stmts(org_id, &id, &emails)).await?;
            record_on(tx, audit, &id, Some(org_id)).await
        })
        .await?;
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
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 AND {condition}");
        self.read(async |tx| {
            let Some(row) = tx
                .optional::<UserRow>(&sql, &[org_id.into(), value.into()])
                .await?
            else {
                return Ok(None);
            };
            let roles: Vec<UserRole> = tx
                .all(
                    "SELECT ur.user_id, r.id, r.name FROM user_roles ur \
                     JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1 ORDER BY r.name_key",
                    &[(&row.user.id).into()],
                )
                .await?;
            Ok(Some(with_roles(row.user, &roles)))
        })
        .await
    }

    /// Like [`Store::find_user`], but a missing user is [`StoreError::NotFound`].
    pub async fn get_user(&self, org_id: &str, id: &str) -> Result<User> {
        self.find_user(org_id, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// A page of an organization's users, ordered by user name.
    pub async fn list_users(&self, org_id: &str, query: &UserQuery) -> Result<Page<User>> {
        // `$2 IS NULL` keeps one statement for "any kind" and "this kind"; PostgreSQL needs the
        // parameter's type spelled out there.
        let filter = "org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR kind = $2) \
             AND (CAST($5 AS TEXT) IS NULL OR user_name_key LIKE $5 ESCAPE '\\' \
             OR LOWER(COALESCE(email, '')) LIKE $5 ESCAPE '\\' \
             OR LOWER(COALESCE(display_name, '')) LIKE $5 ESCAPE '\\')";
        let rows_sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {filter} \
             ORDER BY user_name_key, id LIMIT $3 OFFSET $4"
        );
        let roles_sql = format!(
            "SELECT ur.user_id, r.id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
             WHERE ur.user_id IN (SELECT id FROM users WHERE {filter} \
             ORDER BY user_name_key, id LIMIT $3 OFFSET $4) ORDER BY r.name_key"
        );
        let count_sql = format!("SELECT COUNT(*) FROM users WHERE {filter}");
        let search = query
            .search
            .as_deref()
            .map(|s| format!("%{}%", crate::db::like_escape(&s.to_lowercase())));
        let binds: [Bind; 5] = [
            org_id.into(),
            query.kind.map(UserKind::as_str).into(),
            query.limit.into(),
            query.offset.into(),
            search.as_deref().into(),
        ];
        let count_binds = [
            binds[0].clone(),
            binds[1].clone(),
            Bind::Int(0),
            Bind::Int(0),
            binds[4].clone(),
        ];
        self.read(async |tx| {
            let rows: Vec<UserRow> = tx.all(&rows_sql, &binds).await?;
            let roles: Vec<UserRole> = tx.all(&roles_sql, &binds).await?;
            let (total,) = tx.one(&count_sql, &count_binds).await?;
            let items = rows
                .into_iter()
                .map(|row| with_roles(row.user, &roles))
                .collect();
            Ok(Page { items, total })
        })
        .await
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
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 AND id = $2");
        let current: UserRow = self
            .read(async |tx| tx.optional(&sql, &[org_id.into(), id.into()]).await)
            .await?
            .ok_or(StoreError::NotFound)?;
        let version = current.user.version;
        if expected_version.is_some_and(|expected| expected != version) {
            return Err(StoreError::VersionMismatch { current: version });
        }
        let binds = patched_binds(&current, patch, org_id, id)?;
        self.write(async |tx| {
            // The version in the WHERE clause makes this an optimistic lock: a concurrent change
            // between the read above and this write is detected, not overwritten.
            let updated = tx
                .execute(
                    "UPDATE users SET user_name = $1, user_name_key = $2, email = $3, \
                     given_name = $4, family_name = $5, display_name = $6, active = $7, \
                     external_id = $8, attributes = $9, password_hash = $10, \
                     version = version + 1, updated_at = $11 \
                     WHERE org_id = $12 AND id = $13 AND version = $14",
                    &binds,
                )
                .await?;
            if updated == 0 {
                let now: Option<i64> = tx
                    .value(
                        "SELECT version FROM users WHERE org_id = $1 AND id = $2",
                        &[org_id.into(), id.into()],
                    )
                    .await?;
                return Err(match now {
                    Some(current) => StoreError::VersionMismatch { current },
                    None => StoreError::NotFound,
                });
            }
            if let Some(role_ids) = &patch.role_ids {
                set_user_roles(tx, org_id, id, role_ids).await?;
                // An open invitation was made by someone who could act on the user's old roles:
                // it must not set the password of an account that now holds more.
                tx.execute(
                    "DELETE FROM invitations WHERE user_id = $1 AND used_at IS NULL",
                    &[id.into()],
                )
                .await?;
            }
            // The version check above makes this the change that deactivated them; a password
            // set or taken away ends what the old one let in, as a deactivation does.
            let deactivated = current.user.active && patch.active == Some(false);
            if deactivated || patch.password_hash.is_some() {
                tx.run(end_sign_in_stmts(id)).await?;
            }
            if let Some(email) = &patch.email {
                let (resource,): (String,) = tx
                    .one("SELECT resource FROM users WHERE id = $1", &[id.into()])
                    .await?;
                let emails = lookup_emails(&resource, email.as_deref());
                tx.run(replace_email_stmts(org_id, id, &emails)).await?;
            }
            record(tx, audit, Some(org_id)).await
        })
        .await?;
        self.get_user(org_id, id).await
    }

    /// Deletes a user (with its role grants and access keys) and audits it, atomically.
    pub async fn delete_user(&self, org_id: &str, id: &str, audit: &AuditEvent) -> Result<()> {
        self.write(async |tx| {
            tx.change(
                "DELETE FROM users WHERE org_id = $1 AND id = $2",
                &[org_id.into(), id.into()],
            )
            .await?;
            record(tx, audit, Some(org_id)).await
        })
        .await
    }

    /// The union of the permissions of a user's roles.
    pub async fn user_permissions(&self, org_id: &str, user_id: &str) -> Result<BTreeSet<String>> {
        let lists = self
            .read(async |tx| {
                tx.values(
                    "SELECT r.permissions FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                     WHERE ur.user_id = $1 AND r.org_id = $2",
                    &[user_id.into(), org_id.into()],
                )
                .await
            })
            .await?;
        crate::roles::permission_union(lists)
    }

    /// The person of this organization a verified sign-in names, by the first of `emails` that
    /// is some user's userName or one of their e-mail addresses (any letter case). An address
    /// that fits two people finds nobody: it cannot tell them apart.
    pub async fn find_user_for_sign_in(
        &self,
        org_id: &str,
        emails: &[String],
    ) -> Result<Option<String>> {
        for email in emails {
            let binds = [org_id.into(), email.to_lowercase().into()];
            let ids: Vec<String> = self
                .read(async |tx| {
                    tx.values(
                        "SELECT id FROM users WHERE org_id = $1 AND kind = 'human' \
                         AND user_name_key = $2 UNION SELECT u.id FROM user_emails e \
                         JOIN users u ON u.id = e.user_id \
                         WHERE e.org_id = $1 AND e.value_key = $2 AND u.kind = 'human' LIMIT 2",
                        &binds,
                    )
                    .await
                })
                .await?;
            match ids.as_slice() {
                [one] => return Ok(Some(one.clone())),
                [] => continue,
                _ => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// The parameters of a user's UPDATE: the patch's fields, the stored ones where it has none.
fn patched_binds(
    current: &UserRow,
    patch: &UserPatch,
    org_id: &str,
    id: &str,
) -> Result<Vec<crate::db::Bind>> {
    let pick = |new: &Option<Option<String>>, old: &Option<String>| match new {
        Some(v) => v.clone(),
        None => old.clone(),
    };
    let user = &current.user;
    let user_name = patch.user_name.as_ref().unwrap_or(&user.user_name);
    let attributes = match &patch.attributes {
        Some(a) => serde_json::to_string(a)?,
        None => current.attributes.clone(),
    };
    Ok(vec![
        user_name.into(),
        user_name_key(user_name).into(),
        (&pick(&patch.email, &user.email)).into(),
        (&pick(&patch.given_name, &user.given_name)).into(),
        (&pick(&patch.family_name, &user.family_name)).into(),
        (&pick(&patch.display_name, &user.display_name)).into(),
        patch.active.unwrap_or(user.active).into(),
        (&pick(&patch.external_id, &user.external_id)).into(),
        attributes.into(),
        (&pick(&patch.password_hash, &current.password_hash)).into(),
        now_ms().into(),
        org_id.into(),
        id.into(),
        user.version.into(),
    ])
}
