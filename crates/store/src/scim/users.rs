//! Writing SCIM Users: creation with the organization's default provisioning role, and changes
//! decided under the row lock. Both are planned as statements by plain functions, and run on
//! SQLite's calling-thread connection or PostgreSQL alike (see `Store::write_hot`).

use lanyard_scim::document::ResourceType;
use serde_json::Value;

use super::rows::{UserColumns, UserRow, USER_COLUMNS, USER_COLUMN_NAMES};
use super::ScimResource;
use crate::audit::audit_stmt;
use crate::db::{dialect, Bind, Lock, Stmt, Table, Tx};
use crate::events::{event_stmts, EventOf};
use crate::issuance::end_sign_in_stmts;
use crate::user_emails::{document_emails, email_stmts, replace_email_stmts};
use crate::{new_id, now_ms, AuditEvent, Backend, Result, Store, StoreError};

const ORG_SETTINGS: &str = "SELECT settings FROM organizations WHERE id = $1";
const ROLE_BY_NAME: &str = "SELECT id FROM roles WHERE org_id = $1 AND name_key = $2";
const INSERT_USER: &str = "INSERT INTO users (id, org_id, user_name, user_name_key, email, \
     given_name, family_name, display_name, active, external_id, kind, attributes, resource, \
     version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'human', \
     '{}', $11, 1, $12, $12)";
const INSERT_USER_ROLE: &str = "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)";
const USER_GROUPS: &str = "SELECT g.id AS id, g.display_name AS display FROM group_members m \
     JOIN org_groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.display_name_key, g.id";

/// The UPDATE of a user, setting only the columns whose values change (all of them when the
/// stored ones are unknown): an index none of whose columns is set is left alone, so a change
/// of `active` or a title rewrites no index page.
fn update_user_stmt(
    before: Option<Vec<Bind>>,
    after: Vec<Bind>,
    now: i64,
    org_id: &str,
    id: &str,
) -> Stmt {
    let mut sets = Vec::new();
    let mut binds = Vec::new();
    for (i, value) in after.into_iter().enumerate() {
        if before.as_ref().is_some_and(|b| b[i] == value) {
            continue;
        }
        binds.push(value);
        sets.push(format!("{} = ${}", USER_COLUMN_NAMES[i], binds.len()));
    }
    binds.extend([Bind::Int(now), org_id.into(), id.into()]);
    let n = binds.len();
    sets.push(format!("version = version + 1, updated_at = ${}", n - 2));
    Stmt::new(
        format!(
            "UPDATE users SET {} WHERE org_id = ${} AND id = ${n}",
            sets.join(", "),
            n - 1
        ),
        binds,
    )
}

/// The audit row and the outbox event (`kind`, carrying the user as written) of a user's write.
fn recorded(
    backend: Backend,
    org_id: &str,
    audit: &AuditEvent,
    kind: &str,
    user: &ScimResource,
) -> Result<Vec<Stmt>> {
    let event = EventOf {
        kind,
        resource_type: "User",
        resource_id: &user.id,
    };
    let mut stmts = vec![audit_stmt(audit, Some(org_id))];
    stmts.extend(event_stmts(
        backend,
        org_id,
        event,
        &user.document(ResourceType::User),
    )?);
    Ok(stmts)
}

/// A user about to be created, and everything its creation writes once its role is known.
struct NewUser {
    record: ScimResource,
    cols: UserColumns,
    audit: AuditEvent,
}

impl NewUser {
    fn new(doc: &Value, audit: &AuditEvent) -> Result<NewUser> {
        let cols = UserColumns::of(doc)?;
        let id = new_id();
        let now = now_ms();
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| id.clone());
        Ok(NewUser {
            record: ScimResource {
                id,
                resource: doc.clone(),
                links: Vec::new(),
                version: 1,
                created_at: now,
                updated_at: now,
            },
            cols,
            audit,
        })
    }

    /// The role provisioned users get, by the organization's settings.
    async fn role(tx: &mut Tx<'_>, org_id: &str) -> Result<String> {
        let settings: String = tx
            .value(ORG_SETTINGS, &[org_id.into()])
            .await?
            .ok_or(StoreError::NotFound)?;
        let settings: crate::OrgSettings = serde_json::from_str(&settings)?;
        let name = settings.default_provisioning_role;
        tx.value(
            ROLE_BY_NAME,
            &[org_id.into(), Bind::Text(name.to_lowercase())],
        )
        .await?
        .ok_or_else(|| {
            StoreError::Precondition(format!(
                "this organization has no role named {name:?}, the role provisioned users \
                     get; create it (or choose another default provisioning role) in Lanyard, \
                     then retry"
            ))
        })
    }

    fn stmts(&self, backend: Backend, org_id: &str, role_id: &str) -> Result<Vec<Stmt>> {
        let id = self.record.id.as_str();
        let mut binds = vec![id.into(), org_id.into()];
        binds.extend(self.cols.binds(&self.record.resource)?);
        binds.push(Bind::Int(self.record.created_at));
        let mut stmts = vec![
            Stmt::new(INSERT_USER, binds),
            Stmt::new(INSERT_USER_ROLE, vec![id.into(), role_id.into()]),
        ];
        stmts.extend(email_stmts(org_id, id, &self.cols.emails));
        stmts.extend(recorded(
            backend,
            org_id,
            &self.audit,
            "user.created",
            &self.record,
        )?);
        Ok(stmts)
    }
}

/// What a change to a stored user comes to.
enum UserChange {
    /// The new document equals the stored one: nothing is written.
    Unchanged(ScimResource),
    /// The user after the change, and the statements that write it.
    Write(ScimResource, Vec<Stmt>),
}

/// A change to one user: who, the version the client expects, and what it does.
struct Change<'a, F> {
    org_id: &'a str,
    id: &'a str,
    expected_version: Option<i64>,
    change: F,
    audit: &'a AuditEvent,
}

/// Decides a change to `current` (read under the row lock, with its groups): checks the
/// expected version, applies the change, and plans the writes.
fn plan_user_change<E>(
    backend: Backend,
    current: ScimResource,
    change: Change<'_, impl FnOnce(&Value) -> std::result::Result<Value, E>>,
) -> Result<std::result::Result<UserChange, E>> {
    let (org_id, id) = (change.org_id, change.id);
    if let Some(expected) = change.expected_version {
        if expected != current.version {
            return Err(StoreError::VersionMismatch {
                current: current.version,
            });
        }
    }
    let doc = match (change.change)(&current.resource) {
        Ok(doc) => doc,
        Err(e) => return Ok(Err(e)),
    };
    if doc == current.resource {
        return Ok(Ok(UserChange::Unchanged(current)));
    }
    let cols = UserColumns::of(&doc)?;
    let was_active = current.resource.get("active") != Some(&Value::Bool(false));
    let now = now_ms().max(current.updated_at);
    let before = UserColumns::of(&current.resource)
        .and_then(|before| before.binds(&current.resource))
        .ok();
    let mut stmts = vec![update_user_stmt(before, cols.binds(&doc)?, now, org_id, id)];
    // Most changes leave the addresses alone (a title, `active`): skip the rewrite.
    if document_emails(&current.resource) != cols.emails {
        stmts.extend(replace_email_stmts(org_id, id, &cols.emails));
    }
    let updated = ScimResource {
        id: id.to_string(),
        resource: doc,
        // A user's own change leaves its groups as they were.
        links: current.links,
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: now,
    };
    let kind = match (was_active, cols.columns.active) {
        (true, false) => {
            // Read under the row lock: no session or token can be issued past this.
            stmts.extend(end_sign_in_stmts(id));
            "user.deactivated"
        }
        (false, true) => "user.reactivated",
        _ => "user.updated",
    };
    let mut audit = change.audit.clone();
    audit.target.get_or_insert_with(|| id.to_string());
    stmts.extend(recorded(backend, org_id, &audit, kind, &updated)?);
    Ok(Ok(UserChange::Write(updated, stmts)))
}

/// The user `id` as stored, read under its row lock, with its groups.
async fn locked_user(tx: &mut Tx<'_>, org_id: &str, id: &str) -> Result<ScimResource> {
    let backend = tx.backend();
    // On SQLite the single writer makes the groups read with the row current. On PostgreSQL a
    // subquery would see the statement's snapshot, taken before the row lock was granted, so
    // the groups are read after it.
    let links = match backend {
        Backend::Sqlite => dialect::links(backend, Table::Users),
        Backend::Postgres => "CAST(NULL AS TEXT)",
    };
    let select = format!(
        "SELECT {USER_COLUMNS}, {links} AS links FROM users r WHERE r.org_id = $1 \
         AND r.id = $2 AND r.kind = 'human'{}",
        tx.lock(Lock::Update)
    );
    let UserRow(mut current) = tx
        .optional(&select, &[org_id.into(), id.into()])
        .await?
        .ok_or(StoreError::NotFound)?;
    if backend == Backend::Postgres {
        current.links = tx.all(USER_GROUPS, &[id.into()]).await?;
    }
    Ok(current)
}

impl Store {
    /// Creates a user from its SCIM document with the organization's default provisioning
    /// role; without that role, nothing is created ([`StoreError::Precondition`]).
    pub async fn scim_create_user(
        &self,
        org_id: &str,
        doc: &Value,
        audit: &AuditEvent,
    ) -> Result<ScimResource> {
        let new = NewUser::new(doc, audit)?;
        self.write_hot(
            async |tx| {
                let role = NewUser::role(tx, org_id).await?;
                tx.run(new.stmts(tx.backend(), org_id, &role)?).await
            },
            |_| true,
        )
        .await?;
        Ok(new.record)
    }

    /// Changes a user: `change` gets the stored document and returns the new one (or refuses,
    /// and nothing is written). With `expected_version`, a user changed since is
    /// [`StoreError::VersionMismatch`]. An unchanged document writes nothing.
    pub async fn scim_update_user<E>(
        &self,
        org_id: &str,
        id: &str,
        expected_version: Option<i64>,
        change: impl FnOnce(&Value) -> std::result::Result<Value, E>,
        audit: &AuditEvent,
    ) -> Result<std::result::Result<ScimResource, E>> {
        let change = Change {
            org_id,
            id,
            expected_version,
            change,
            audit,
        };
        self.write_hot(
            async |tx| {
                let current = locked_user(tx, org_id, id).await?;
                Ok(match plan_user_change(tx.backend(), current, change)? {
                    Err(e) => Err(e),
                    Ok(UserChange::Unchanged(current)) => Ok(current),
                    Ok(UserChange::Write(updated, stmts)) => {
                        tx.run(stmts).await?;
                        Ok(updated)
                    }
                })
            },
            |_| true,
        )
        .await
    }
}
