//! SCIM Users and Groups: each resource's SCIM document, the columns kept in step with it, group
//! memberships, and the event outbox row written in the same transaction as every change.
//!
//! Changes go through a closure that receives the stored document and returns the new one (the
//! PATCH engine or a PUT body, in the server), called inside the transaction after the row is
//! locked — `FOR UPDATE` on PostgreSQL, the single writer on SQLite — so concurrent PATCHes of one
//! group's members serialise instead of losing each other's members.

use std::collections::BTreeSet;

use lanyard_scim::eval::ResourceSchema;
use lanyard_scim::filter::{AttrPath, Filter};
use lanyard_scim::messages::SortOrder;
use serde_json::{json, Map, Value};

use crate::audit::insert_audit;
use crate::pool::{read, write, Pool};
use crate::scim_sql::{Bind, Compiler, Table};
use crate::sqlite_direct::{self, Direct};
use crate::{dialect, new_id, now_ms, AuditEvent, Backend, Result, Store, StoreError};

/// A member of a group, or a group a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimLink {
    pub id: String,
    pub display: Option<String>,
}

/// A SCIM User or Group as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimResource {
    pub id: String,
    /// The document: `schemas` and the client-writable attributes, without `id`, `meta` and the
    /// membership attribute.
    pub resource: Value,
    /// A user's groups, or a group's members.
    pub links: Vec<ScimLink>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

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

/// A list's statements.
struct ListSql {
    page: String,
    count: String,
    binds: Vec<Bind>,
    /// Whether the filter names one resource by a unique key (cheap to read on any thread).
    unique: bool,
}

/// A page of resources and how many match in all.
#[derive(Debug, Clone)]
pub struct ScimList {
    pub resources: Vec<ScimResource>,
    pub total: u64,
}

/// A change recorded in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The cursor: increases with every event of an organization.
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub resource_type: String,
    pub resource_id: String,
    /// The resource after the change (for deletions, what identified it).
    pub data: Value,
    pub created_at: i64,
}

const USER_COLUMNS: &str = "r.id, r.user_name, r.email, r.given_name, r.family_name, \
     r.display_name, r.active, r.external_id, r.resource, r.version, r.created_at, r.updated_at";
const GROUP_COLUMNS: &str =
    "r.id, r.display_name, r.external_id, r.resource, r.version, r.created_at, r.updated_at";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    user_name: String,
    email: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    display_name: Option<String>,
    active: bool,
    external_id: Option<String>,
    resource: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
    /// Memberships as a JSON array of `[id, display]`, when the query read them.
    #[sqlx(default)]
    links: Option<String>,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    display_name: String,
    external_id: Option<String>,
    resource: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
    #[sqlx(default)]
    links: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: String,
    display: Option<String>,
}

/// Reads the `links` column: `[[id, display], …]`.
fn parse_links(links: Option<&str>) -> Result<Vec<ScimLink>> {
    let Some(text) = links else {
        return Ok(Vec::new());
    };
    let pairs: Vec<(String, Option<String>)> = serde_json::from_str(text)?;
    Ok(pairs
        .into_iter()
        .map(|(id, display)| ScimLink { id, display })
        .collect())
}

/// The columns of `users` that mirror a SCIM document.
struct UserColumns {
    user_name: String,
    email: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    display_name: Option<String>,
    active: bool,
    external_id: Option<String>,
    emails: BTreeSet<String>,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl UserColumns {
    fn of(doc: &Value) -> Result<UserColumns> {
        let user_name = text(doc.get("userName"))
            .ok_or_else(|| StoreError::InvalidInput("userName is required".into()))?;
        let emails: Vec<&Value> = doc
            .get("emails")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let email = emails
            .iter()
            .find(|e| e.get("primary") == Some(&Value::Bool(true)))
            .or(emails.first())
            .and_then(|e| text(e.get("value")));
        Ok(UserColumns {
            user_name,
            email,
            given_name: text(doc.pointer("/name/givenName")),
            family_name: text(doc.pointer("/name/familyName")),
            display_name: text(doc.get("displayName")),
            active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
            external_id: text(doc.get("externalId")),
            emails: document_emails(doc),
        })
    }
}

/// A document's e-mail addresses, lower-cased: what `user_emails` holds for it.
fn document_emails(doc: &Value) -> BTreeSet<String> {
    doc.get("emails")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|e| text(e.get("value")))
                .map(|v| v.to_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// A row of `users` or `org_groups` read as a SCIM resource.
trait StoredRow: Sized {
    /// The resource, with `links` (or, when empty, the row's own `links` column).
    fn into_resource(self, links: Vec<ScimLink>) -> Result<ScimResource>;

    /// Reads a row the direct SQLite path returned (columns by name, as sqlx's `FromRow`).
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

impl StoredRow for UserRow {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(UserRow {
            id: row.get("id")?,
            user_name: row.get("user_name")?,
            email: row.get("email")?,
            given_name: row.get("given_name")?,
            family_name: row.get("family_name")?,
            display_name: row.get("display_name")?,
            active: row.get("active")?,
            external_id: row.get("external_id")?,
            resource: row.get("resource")?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            links: row.get("links")?,
        })
    }

    /// The stored document with the columns laid over it: the admin API edits the columns, and
    /// they are the truth for the attributes they hold.
    fn into_resource(self, links: Vec<ScimLink>) -> Result<ScimResource> {
        let links = match links.is_empty() {
            true => parse_links(self.links.as_deref())?,
            false => links,
        };
        let mut doc: Value = serde_json::from_str(&self.resource)?;
        if !doc.is_object() {
            doc = json!({});
        }
        let obj = doc.as_object_mut().expect("an object");
        obj.entry("schemas")
            .or_insert_with(|| json!([lanyard_scim::schema::USER]));
        obj.insert("userName".into(), Value::String(self.user_name));
        // `active` shows when the client set it, or when an admin deactivated the user.
        if obj.contains_key("active") || !self.active {
            obj.insert("active".into(), Value::Bool(self.active));
        }
        set_or_remove(obj, "externalId", self.external_id);
        set_or_remove(obj, "displayName", self.display_name);
        let name = obj
            .entry("name")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(name) = name.as_object_mut() {
            set_or_remove(name, "givenName", self.given_name);
            set_or_remove(name, "familyName", self.family_name);
        }
        if obj
            .get("name")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            obj.remove("name");
        }
        if let Some(email) = self.email {
            let emails = obj.entry("emails").or_insert_with(|| json!([]));
            if let Some(list) = emails.as_array_mut() {
                let known = list.iter().any(|e| {
                    e.get("value")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case(&email))
                });
                if !known {
                    for e in list.iter_mut() {
                        if let Some(o) = e.as_object_mut() {
                            o.remove("primary");
                        }
                    }
                    list.insert(0, json!({ "value": email, "primary": true }));
                }
            }
        }
        Ok(ScimResource {
            id: self.id,
            resource: doc,
            links,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn set_or_remove(obj: &mut Map<String, Value>, key: &str, value: Option<String>) {
    match value {
        Some(v) => {
            obj.insert(key.into(), Value::String(v));
        }
        None => {
            obj.remove(key);
        }
    }
}

impl StoredRow for GroupRow {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(GroupRow {
            id: row.get("id")?,
            display_name: row.get("display_name")?,
            external_id: row.get("external_id")?,
            resource: row.get("resource")?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            links: row.get("links")?,
        })
    }

    fn into_resource(self, links: Vec<ScimLink>) -> Result<ScimResource> {
        let links = match links.is_empty() {
            true => parse_links(self.links.as_deref())?,
            false => links,
        };
        let mut doc: Value = serde_json::from_str(&self.resource)?;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("displayName".into(), Value::String(self.display_name));
            set_or_remove(obj, "externalId", self.external_id);
        }
        Ok(ScimResource {
            id: self.id,
            resource: doc,
            links,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The members a group document lists (`members[].value`), in order, without repeats.
fn member_ids(doc: &Value) -> Vec<String> {
    let mut seen = BTreeSet::new();
    doc.get("members")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str))
                .filter(|id| seen.insert(id.to_string()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl ScimResource {
    /// The document with `id`, `meta` (all but `location`) and the membership attribute: what
    /// events carry, and what the server completes with locations for responses.
    pub fn document(&self, resource_type: &str) -> Value {
        let mut doc = self.resource.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("id".into(), Value::String(self.id.clone()));
            let links_name = if resource_type == "Group" {
                "members"
            } else {
                "groups"
            };
            obj.remove(links_name);
            if !self.links.is_empty() {
                let items = self
                    .links
                    .iter()
                    .map(|l| {
                        let mut item = json!({ "value": l.id });
                        if let Some(d) = &l.display {
                            item["display"] = Value::String(d.clone());
                        }
                        item
                    })
                    .collect();
                obj.insert(links_name.into(), Value::Array(items));
            }
            obj.insert(
                "meta".into(),
                json!({
                    "resourceType": resource_type,
                    "created": rfc3339(self.created_at),
                    "lastModified": rfc3339(self.updated_at),
                    "version": format!("W/\"{}\"", self.version),
                }),
            );
        }
        doc
    }
}

/// Unix milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Binds every parameter of a compiled filter onto `$q`.
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                $crate::scim_sql::Bind::Text(s) => q.bind(s.clone()),
                $crate::scim_sql::Bind::Int(i) => q.bind(*i),
                $crate::scim_sql::Bind::Float(f) => q.bind(*f),
                $crate::scim_sql::Bind::Bool(v) => q.bind(*v),
                $crate::scim_sql::Bind::Null => q.bind(None::<String>),
            };
        }
        q
    }};
}

/// Runs planned statements on the sqlx transaction `$tx`.
macro_rules! run_stmts {
    ($tx:expr, $stmts:expr) => {{
        for stmt in $stmts {
            $crate::scim::bind_all!(sqlx::query(&stmt.sql), &stmt.binds)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

pub(crate) use {bind_all, run_stmts};

/// Records an event in the outbox on `$tx` (see [`event_stmts`]).
macro_rules! insert_event {
    ($tx:expr, $backend:expr, $org_id:expr, $kind:expr, $rtype:expr, $rid:expr, $data:expr) => {{
        run_stmts!(
            $tx,
            event_stmts($backend, $org_id, $kind, $rtype, $rid, $data)?
        );
    }};
}

/// The addresses a user's e-mail lookups must find: the document's `emails` and the `email`
/// column the admin API edits (which the document shows as primary), lower-cased.
pub(crate) fn lookup_emails(resource: &str, email: Option<&str>) -> BTreeSet<String> {
    let doc: Value = serde_json::from_str(resource).unwrap_or(Value::Null);
    let mut all = document_emails(&doc);
    all.extend(email.map(str::to_lowercase));
    all
}

/// Adds one member on `$tx`; a user outside the organization is an invalid reference.
macro_rules! add_member {
    ($tx:expr, $org_id:expr, $group_id:expr, $user_id:expr) => {{
        let added = sqlx::query(
            "INSERT INTO group_members (group_id, user_id) SELECT $1, id FROM users \
             WHERE id = $2 AND org_id = $3 AND kind = 'human' ON CONFLICT DO NOTHING",
        )
        .bind($group_id)
        .bind($user_id)
        .bind($org_id)
        .execute(&mut *$tx)
        .await?;
        if added.rows_affected() != 1 {
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM users WHERE id = $1 AND org_id = $2 AND kind = 'human'",
            )
            .bind($user_id)
            .bind($org_id)
            .fetch_optional(&mut *$tx)
            .await?;
            if exists.is_none() {
                return Err(StoreError::InvalidReference(format!(
                    "member {:?} is not a user of this organization",
                    $user_id
                )));
            }
        }
    }};
}

/// A group's members on `$tx`, in a stable order.
macro_rules! group_links {
    ($tx:expr, $group_id:expr) => {{
        sqlx::query_as::<_, LinkRow>(
            "SELECT u.id AS id, COALESCE(u.display_name, u.user_name) AS display \
             FROM group_members m JOIN users u ON u.id = m.user_id \
             WHERE m.group_id = $1 ORDER BY u.user_name_key, u.id",
        )
        .bind($group_id)
        .fetch_all(&mut *$tx)
        .await?
        .into_iter()
        .map(|r| ScimLink {
            id: r.id,
            display: r.display,
        })
        .collect::<Vec<_>>()
    }};
}

/// A membership event names the group and the member only: a group of n members changed one
/// member at a time must not write n copies of the whole group.
fn member_event(group_id: &str, display_name: &str, member: &str) -> Value {
    json!({
        "group": { "id": group_id, "displayName": display_name },
        "member": { "value": member },
    })
}

/// One statement of a change with its parameters. A change is planned once as a list of these,
/// and each driver runs the list in its own transaction.
pub(crate) struct Stmt {
    pub(crate) sql: std::borrow::Cow<'static, str>,
    pub(crate) binds: Vec<Bind>,
}

const ORG_SETTINGS: &str = "SELECT settings FROM organizations WHERE id = $1";
const ROLE_BY_NAME: &str = "SELECT id FROM roles WHERE org_id = $1 AND name_key = $2";
const INSERT_USER: &str = "INSERT INTO users (id, org_id, user_name, user_name_key, email, \
     given_name, family_name, display_name, active, external_id, kind, attributes, resource, \
     version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'human', \
     '{}', $11, 1, $12, $12)";
const INSERT_USER_ROLE: &str = "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)";
const DELETE_EMAILS: &str = "DELETE FROM user_emails WHERE user_id = $1 AND org_id = $2";
const INSERT_EMAIL: &str =
    "INSERT INTO user_emails (user_id, org_id, value_key) VALUES ($1, $2, $3)";
const USER_GROUPS: &str = "SELECT g.id AS id, g.display_name AS display FROM group_members m \
     JOIN org_groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.display_name_key, g.id";
const ADVISORY_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext($1))";
const INSERT_EVENT: &str = "INSERT INTO events (id, org_id, kind, resource_type, resource_id, \
     data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Records an event in the outbox. On PostgreSQL an advisory lock per organization, held to
/// commit, comes first: events then commit in `seq` order, so a reader following the cursor
/// never skips one that commits late.
fn event_stmts(
    backend: Backend,
    org_id: &str,
    kind: &str,
    resource_type: &str,
    resource_id: &str,
    data: &Value,
) -> Result<Vec<Stmt>> {
    let mut stmts = Vec::with_capacity(2);
    if backend == Backend::Postgres {
        stmts.push(Stmt {
            sql: ADVISORY_LOCK.into(),
            binds: vec![org_id.into()],
        });
    }
    stmts.push(Stmt {
        sql: INSERT_EVENT.into(),
        binds: vec![
            Bind::Text(new_id()),
            org_id.into(),
            kind.into(),
            resource_type.into(),
            resource_id.into(),
            Bind::Text(serde_json::to_string(data)?),
            Bind::Int(now_ms()),
        ],
    });
    Ok(stmts)
}

/// Replaces a user's rows in `user_emails` with `emails`.
pub(crate) fn replace_email_stmts<'a>(
    org_id: &'a str,
    user_id: &'a str,
    emails: &'a BTreeSet<String>,
) -> impl Iterator<Item = Stmt> + 'a {
    let delete = Stmt {
        sql: DELETE_EMAILS.into(),
        binds: vec![user_id.into(), org_id.into()],
    };
    std::iter::once(delete).chain(email_stmts(org_id, user_id, emails))
}

/// The `user_emails` rows of a user.
pub(crate) fn email_stmts<'a>(
    org_id: &'a str,
    user_id: &'a str,
    emails: &'a BTreeSet<String>,
) -> impl Iterator<Item = Stmt> + 'a {
    emails.iter().map(move |e| Stmt {
        sql: INSERT_EMAIL.into(),
        binds: vec![user_id.into(), org_id.into(), e.as_str().into()],
    })
}

/// The `users` column parameters shared by insert and update, in their order there.
fn user_column_binds(cols: &UserColumns, doc: &Value) -> Result<Vec<Bind>> {
    Ok(vec![
        cols.user_name.as_str().into(),
        Bind::Text(cols.user_name.to_lowercase()),
        cols.email.as_deref().into(),
        cols.given_name.as_deref().into(),
        cols.family_name.as_deref().into(),
        cols.display_name.as_deref().into(),
        Bind::Bool(cols.active),
        cols.external_id.as_deref().into(),
        Bind::Text(serde_json::to_string(doc)?),
    ])
}

/// The `users` columns [`user_column_binds`] sets, in its order.
const USER_COLUMN_NAMES: [&str; 9] = [
    "user_name",
    "user_name_key",
    "email",
    "given_name",
    "family_name",
    "display_name",
    "active",
    "external_id",
    "resource",
];

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
    Stmt {
        sql: format!(
            "UPDATE users SET {} WHERE org_id = ${} AND id = ${n}",
            sets.join(", "),
            n - 1
        )
        .into(),
        binds,
    }
}

/// A user about to be created, and everything its creation writes once its role is known.
pub(crate) struct NewUser {
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

    /// The role lookup's parameters, and what to say when it finds nothing.
    fn role_lookup(org_id: &str, settings: Option<String>) -> Result<(Vec<Bind>, String)> {
        let settings: crate::OrgSettings =
            serde_json::from_str(&settings.ok_or(StoreError::NotFound)?)?;
        let name = settings.default_provisioning_role;
        Ok((vec![org_id.into(), Bind::Text(name.to_lowercase())], name))
    }

    fn missing_role(role_name: &str) -> StoreError {
        StoreError::Precondition(format!(
            "this organization has no role named {role_name:?}, the role provisioned users get; \
             create it (or choose another default provisioning role) in Lanyard, then retry"
        ))
    }

    fn stmts(&self, backend: Backend, org_id: &str, role_id: &str) -> Result<Vec<Stmt>> {
        let id = self.record.id.as_str();
        let mut binds = vec![id.into(), org_id.into()];
        binds.extend(user_column_binds(&self.cols, &self.record.resource)?);
        binds.push(Bind::Int(self.record.created_at));
        let mut stmts = vec![
            Stmt {
                sql: INSERT_USER.into(),
                binds,
            },
            Stmt {
                sql: INSERT_USER_ROLE.into(),
                binds: vec![id.into(), role_id.into()],
            },
        ];
        stmts.extend(email_stmts(org_id, id, &self.cols.emails));
        stmts.push(Stmt {
            sql: crate::audit::INSERT_AUDIT.into(),
            binds: crate::audit::audit_binds(&self.audit, Some(org_id)),
        });
        stmts.extend(event_stmts(
            backend,
            org_id,
            "user.created",
            "User",
            id,
            &self.record.document("User"),
        )?);
        Ok(stmts)
    }
}

/// What a change to a stored user comes to.
pub(crate) enum UserChange {
    /// The new document equals the stored one: nothing is written.
    Unchanged(ScimResource),
    /// The user after the change, and the statements that write it.
    Write(ScimResource, Vec<Stmt>),
}

/// Decides a change to `current` (read under the row lock, with its groups): checks the
/// expected version, applies `change`, and plans the writes.
#[allow(clippy::too_many_arguments)]
fn plan_user_change<E>(
    backend: Backend,
    org_id: &str,
    id: &str,
    current: ScimResource,
    expected_version: Option<i64>,
    change: impl FnOnce(&Value) -> std::result::Result<Value, E>,
    audit: &AuditEvent,
) -> Result<std::result::Result<UserChange, E>> {
    if let Some(expected) = expected_version {
        if expected != current.version {
            return Err(StoreError::VersionMismatch {
                current: current.version,
            });
        }
    }
    let doc = match change(&current.resource) {
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
        .and_then(|before| user_column_binds(&before, &current.resource))
        .ok();
    let after = user_column_binds(&cols, &doc)?;
    let mut stmts = vec![update_user_stmt(before, after, now, org_id, id)];
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
    let kind = match (was_active, cols.active) {
        (true, false) => {
            // Read under the row lock: no session or token can be issued past this.
            stmts.extend(crate::signin::end_sign_in_stmts(id));
            "user.deactivated"
        }
        (false, true) => "user.reactivated",
        _ => "user.updated",
    };
    let mut audit = audit.clone();
    audit.target.get_or_insert_with(|| id.to_string());
    stmts.push(Stmt {
        sql: crate::audit::INSERT_AUDIT.into(),
        binds: crate::audit::audit_binds(&audit, Some(org_id)),
    });
    stmts.extend(event_stmts(
        backend,
        org_id,
        kind,
        "User",
        id,
        &updated.document("User"),
    )?);
    Ok(Ok(UserChange::Write(updated, stmts)))
}

impl Store {
    /// The calling-thread SQLite connections, on SQLite.
    fn direct(&self) -> Option<&Direct> {
        match &self.pool {
            crate::pool::Pool::Sqlite { direct, .. } => Some(direct),
            crate::pool::Pool::Postgres(_) => None,
        }
    }

    /// The calling-thread SQLite readers, for reads of `table` by index. Users only: a user's
    /// groups are few, but a group read brings all its members, which may be many thousands
    /// and is left to the reader pool's threads.
    fn direct_reads(&self, table: Table) -> Option<&Direct> {
        self.direct().filter(|_| table == Table::Users)
    }

    fn lock_clause(&self) -> &'static str {
        match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// Creates a user from its SCIM document with the organization's default provisioning
    /// role; without that role, nothing is created ([`StoreError::Precondition`]).
    pub async fn scim_create_user(
        &self,
        org_id: &str,
        doc: &Value,
        audit: &AuditEvent,
    ) -> Result<ScimResource> {
        let new = NewUser::new(doc, audit)?;
        let backend = self.backend();
        let pool = match &self.pool {
            Pool::Postgres(pool) => pool,
            Pool::Sqlite { direct, .. } => {
                direct
                    .write(|tx| {
                        let settings =
                            sqlite_direct::query_one(tx, ORG_SETTINGS, &[org_id.into()], |r| {
                                r.get(0)
                            })?;
                        let (binds, role_name) = NewUser::role_lookup(org_id, settings)?;
                        let role: String =
                            sqlite_direct::query_one(tx, ROLE_BY_NAME, &binds, |r| r.get(0))?
                                .ok_or_else(|| NewUser::missing_role(&role_name))?;
                        for stmt in new.stmts(backend, org_id, &role)? {
                            sqlite_direct::execute(tx, &stmt.sql, &stmt.binds)?;
                        }
                        Ok(())
                    })
                    .await?;
                return Ok(new.record);
            }
        };
        let mut tx = pool.begin().await?;
        let settings: Option<String> = sqlx::query_scalar(ORG_SETTINGS)
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?;
        let (binds, role_name) = NewUser::role_lookup(org_id, settings)?;
        let role: String = bind_all!(sqlx::query_scalar(ROLE_BY_NAME), &binds)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| NewUser::missing_role(&role_name))?;
        run_stmts!(tx, new.stmts(backend, org_id, &role)?);
        tx.commit().await?;
        Ok(new.record)
    }

    /// A provisioned (human) user of this organization by id, with its groups.
    pub async fn scim_get_user(&self, org_id: &str, id: &str) -> Result<Option<ScimResource>> {
        let links = dialect::links(self.backend(), Table::Users);
        let sql = format!(
            "SELECT {USER_COLUMNS}, {links} AS links FROM users r WHERE r.org_id = $1 \
             AND r.id = $2 AND r.kind = 'human'"
        );
        self.get_one::<UserRow>(&sql, org_id, id, Table::Users)
            .await
    }

    /// A group of this organization by id, with its members.
    pub async fn scim_get_group(&self, org_id: &str, id: &str) -> Result<Option<ScimResource>> {
        let links = dialect::links(self.backend(), Table::Groups);
        let sql = format!(
            "SELECT {GROUP_COLUMNS}, {links} AS links FROM org_groups r \
             WHERE r.org_id = $1 AND r.id = $2"
        );
        self.get_one::<GroupRow>(&sql, org_id, id, Table::Groups)
            .await
    }

    /// Reads one resource by `sql` over the organization id and the resource id.
    async fn get_one<R>(
        &self,
        sql: &str,
        org_id: &str,
        id: &str,
        table: Table,
    ) -> Result<Option<ScimResource>>
    where
        R: StoredRow
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let row: Option<R> = match self.direct_reads(table) {
            Some(direct) => direct.read(|c| {
                sqlite_direct::query_one(c, sql, &[org_id.into(), id.into()], R::from_sqlite)
            })?,
            None => read!(self, |p| {
                sqlx::query_as(sql)
                    .bind(org_id)
                    .bind(id)
                    .fetch_optional(p)
                    .await?
            }),
        };
        row.map(|r| r.into_resource(Vec::new())).transpose()
    }

    /// A page of this organization's users matching the query's filter.
    pub async fn scim_list_users(
        &self,
        org_id: &str,
        schema: &ResourceSchema<'_>,
        query: &ScimQuery<'_>,
    ) -> Result<ScimList> {
        self.scim_list::<UserRow>(org_id, schema, query, Table::Users)
            .await
    }

    /// A page of this organization's groups matching the query's filter.
    pub async fn scim_list_groups(
        &self,
        org_id: &str,
        schema: &ResourceSchema<'_>,
        query: &ScimQuery<'_>,
    ) -> Result<ScimList> {
        self.scim_list::<GroupRow>(org_id, schema, query, Table::Groups)
            .await
    }

    /// The statements of a list: the page (ids by filter, order and paging, then their rows)
    /// and the count, with their parameters after the organization id.
    fn list_sql(
        &self,
        schema: &ResourceSchema<'_>,
        query: &ScimQuery<'_>,
        table: Table,
    ) -> Result<ListSql> {
        let (table_name, from, columns) = match table {
            Table::Users => (
                "users",
                "users r WHERE r.org_id = $1 AND r.kind = 'human'",
                USER_COLUMNS,
            ),
            Table::Groups => (
                "org_groups",
                "org_groups r WHERE r.org_id = $1",
                GROUP_COLUMNS,
            ),
        };
        let links = if query.links {
            dialect::links(self.backend(), table)
        } else {
            "CAST(NULL AS TEXT)"
        };
        let mut compiler = Compiler::new(self.backend(), table, schema, 1, 2);
        let condition = match query.filter {
            Some(f) => compiler.condition(f)?,
            None => "(1 = 1)".to_string(),
        };
        let selective = query.filter.is_some_and(|f| compiler.selective(f));
        let unique = query.filter.is_some_and(|f| compiler.unique(f));
        let order = compiler.order_by(query.sort, selective)?;
        let binds = compiler.binds;
        let n = binds.len() + 2;
        let count = format!("SELECT COUNT(*) FROM {from} AND {condition}");
        // The page's ids are found first (the skipping of OFFSET walks an index, not rows), then
        // their rows with memberships, in one statement.
        let page = format!(
            "SELECT {columns}, {links} AS links FROM {table_name} r WHERE r.id IN \
             (SELECT r.id FROM {from} AND {condition} ORDER BY {order} LIMIT ${n} OFFSET ${}) \
             ORDER BY {order}",
            n + 1
        );
        Ok(ListSql {
            page,
            count,
            binds,
            unique,
        })
    }

    /// The database's plan for listing users with `filter` (EXPLAIN QUERY PLAN on SQLite, with
    /// no statistics; EXPLAIN on PostgreSQL after ANALYZE, with sequential scans discouraged,
    /// since its planner would rather scan a table of a few rows): lets a test prove lookups
    /// use an index.
    #[cfg(feature = "testing")]
    pub async fn explain_scim_users(
        &self,
        org_id: &str,
        schema: &ResourceSchema<'_>,
        filter: &Filter,
    ) -> Result<String> {
        let query = ScimQuery {
            filter: Some(filter),
            sort: None,
            offset: 0,
            count: 100,
            links: false,
        };
        let sql = self.list_sql(schema, &query, Table::Users)?;
        let sqlite_plan = format!("EXPLAIN QUERY PLAN {}", sql.page);
        let postgres_plan = format!("EXPLAIN {}", sql.page);
        let lines: Vec<String> = match &self.pool {
            crate::pool::Pool::Sqlite { reader, .. } => {
                let rows: Vec<(i64, i64, i64, String)> =
                    bind_all!(sqlx::query_as(&sqlite_plan).bind(org_id), &sql.binds)
                        .bind(100_i64)
                        .bind(0_i64)
                        .fetch_all(reader)
                        .await?;
                rows.into_iter().map(|r| r.3).collect()
            }
            crate::pool::Pool::Postgres(pg) => {
                // With statistics, as autovacuum keeps them on a live database.
                sqlx::query("ANALYZE users").execute(pg).await?;
                sqlx::query("ANALYZE user_emails").execute(pg).await?;
                let mut tx = pg.begin().await?;
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await?;
                let rows: Vec<(String,)> =
                    bind_all!(sqlx::query_as(&postgres_plan).bind(org_id), &sql.binds)
                        .bind(100_i64)
                        .bind(0_i64)
                        .fetch_all(&mut *tx)
                        .await?;
                tx.rollback().await?;
                rows.into_iter().map(|r| r.0).collect()
            }
        };
        Ok(lines.join("\n"))
    }

    async fn scim_list<R>(
        &self,
        org_id: &str,
        schema: &ResourceSchema<'_>,
        query: &ScimQuery<'_>,
        table: Table,
    ) -> Result<ScimList>
    where
        R: StoredRow
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let ListSql {
            page: page_sql,
            count: count_sql,
            binds,
            unique,
        } = self.list_sql(schema, query, table)?;
        let limit = i64::try_from(query.count).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        // A page that is not full tells the total, unless it is empty past the start.
        let total_of = |rows: usize| {
            let seen = i64::try_from(rows).unwrap_or(i64::MAX);
            (seen < limit && (seen > 0 || offset == 0)).then_some(offset + seen)
        };
        // A lookup of one user by a unique key reads one row: on SQLite, on this thread.
        // Anything that may walk many rows (other keys are not unique: a tenant can give
        // thousands of users one externalId) stays on the reader pool's threads.
        let result = match self.direct_reads(table).filter(|_| unique) {
            Some(direct) => direct.read(|c| {
                let mut params: Vec<Bind> = vec![org_id.into()];
                params.extend(binds.iter().cloned());
                params.extend([Bind::Int(limit), Bind::Int(offset)]);
                let rows: Vec<R> = if limit == 0 {
                    Vec::new()
                } else {
                    sqlite_direct::query(c, &page_sql, &params, R::from_sqlite)?
                };
                let total = match total_of(rows.len()) {
                    Some(total) => total,
                    None => {
                        sqlite_direct::query_one(c, &count_sql, &params, |r| r.get(0))?.unwrap_or(0)
                    }
                };
                Ok((rows, total))
            })?,
            None => read!(self, |p| {
                let rows: Vec<R> = if limit == 0 {
                    Vec::new()
                } else {
                    bind_all!(sqlx::query_as(&page_sql).bind(org_id), &binds)
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(p)
                        .await?
                };
                let total: i64 = match total_of(rows.len()) {
                    Some(total) => total,
                    None => {
                        bind_all!(sqlx::query_scalar(&count_sql).bind(org_id), &binds)
                            .fetch_one(p)
                            .await?
                    }
                };
                (rows, total)
            }),
        };
        let (rows, total): (Vec<R>, i64) = result;
        Ok(ScimList {
            resources: rows
                .into_iter()
                .map(|r| r.into_resource(Vec::new()))
                .collect::<Result<_>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
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
        let backend = self.backend();
        // On SQLite the single writer makes the groups read with the row current. On
        // PostgreSQL a subquery would see the statement's snapshot, taken before the row lock
        // was granted, so the groups are read after it.
        let links = match backend {
            Backend::Sqlite => dialect::links(backend, Table::Users),
            Backend::Postgres => "CAST(NULL AS TEXT)",
        };
        let select = format!(
            "SELECT {USER_COLUMNS}, {links} AS links FROM users r WHERE r.org_id = $1 \
             AND r.id = $2 AND r.kind = 'human'{}",
            self.lock_clause()
        );
        // What the change comes to for the user as read under the row lock: the answer, and
        // the statements that write it (none when it changes nothing or is refused).
        let decide = move |current| -> Result<(std::result::Result<ScimResource, E>, Vec<Stmt>)> {
            let planned = plan_user_change(
                backend,
                org_id,
                id,
                current,
                expected_version,
                change,
                audit,
            )?;
            Ok(match planned {
                Err(e) => (Err(e), Vec::new()),
                Ok(UserChange::Unchanged(current)) => (Ok(current), Vec::new()),
                Ok(UserChange::Write(updated, stmts)) => (Ok(updated), stmts),
            })
        };
        let pool = match &self.pool {
            Pool::Postgres(pool) => pool,
            Pool::Sqlite { direct, .. } => {
                return direct
                    .write(|tx| {
                        let row = sqlite_direct::query_one(
                            tx,
                            &select,
                            &[org_id.into(), id.into()],
                            UserRow::from_sqlite,
                        )?;
                        let current = row.ok_or(StoreError::NotFound)?.into_resource(Vec::new())?;
                        let (outcome, stmts) = decide(current)?;
                        for stmt in stmts {
                            sqlite_direct::execute(tx, &stmt.sql, &stmt.binds)?;
                        }
                        Ok(outcome)
                    })
                    .await;
            }
        };
        let mut tx = pool.begin().await?;
        let row: Option<UserRow> = sqlx::query_as(&select)
            .bind(org_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let row = row.ok_or(StoreError::NotFound)?;
        let groups = sqlx::query_as::<_, LinkRow>(USER_GROUPS)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| ScimLink {
                id: r.id,
                display: r.display,
            })
            .collect();
        let (outcome, stmts) = decide(row.into_resource(groups)?)?;
        if !stmts.is_empty() {
            run_stmts!(tx, stmts);
            tx.commit().await?;
        }
        Ok(outcome)
    }

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
        let (sql_table, extra, kind, rtype) = match table {
            Table::Users => ("users", " AND kind = 'human'", "user.deleted", "User"),
            Table::Groups => ("org_groups", "", "group.deleted", "Group"),
        };
        let lock = self.lock_clause();
        let backend = self.backend();
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| id.to_string());
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let version: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT version FROM {sql_table} WHERE org_id = $1 AND id = $2{extra}{lock}"
            ))
            .bind(org_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let version = version.ok_or(StoreError::NotFound)?;
            if expected_version.is_some_and(|v| v != version) {
                return Err(StoreError::VersionMismatch { current: version });
            }
            // A deleted user leaves its groups: say so, as a PATCH removing it would.
            let left: Vec<(String, String)> = if table == Table::Users {
                sqlx::query_as(
                    "SELECT g.id, g.display_name FROM group_members m \
                     JOIN org_groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.id",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
            } else {
                Vec::new()
            };
            sqlx::query(&format!(
                "DELETE FROM {sql_table} WHERE org_id = $1 AND id = $2"
            ))
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            for (group_id, display_name) in &left {
                let data = member_event(group_id, display_name, id);
                insert_event!(
                    tx,
                    backend,
                    org_id,
                    "group.member.removed",
                    "Group",
                    group_id,
                    &data
                );
            }
            insert_event!(tx, backend, org_id, kind, rtype, id, &json!({ "id": id }));
            tx.commit().await?;
        });
        Ok(())
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
        let backend = self.backend();
        let display_name = text(doc.get("displayName"))
            .ok_or_else(|| StoreError::InvalidInput("displayName is required".into()))?;
        let members = member_ids(doc);
        let mut stored = doc.clone();
        if let Some(obj) = stored.as_object_mut() {
            obj.remove("members");
        }
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| id.clone());
        let record = write!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO org_groups (id, org_id, display_name, display_name_key, external_id, \
                 resource, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
            )
            .bind(&id)
            .bind(org_id)
            .bind(&display_name)
            .bind(display_name.to_lowercase())
            .bind(text(doc.get("externalId")))
            .bind(serde_json::to_string(&stored)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for m in &members {
                add_member!(tx, org_id, &id, m);
            }
            let links = group_links!(tx, &id);
            let record = ScimResource {
                id: id.clone(),
                resource: stored.clone(),
                links,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            let document = record.document("Group");
            insert_event!(
                tx,
                backend,
                org_id,
                "group.created",
                "Group",
                &id,
                &document
            );
            for m in &members {
                let data = member_event(&id, &display_name, m);
                insert_event!(
                    tx,
                    backend,
                    org_id,
                    "group.member.added",
                    "Group",
                    &id,
                    &data
                );
            }
            tx.commit().await?;
            record
        });
        Ok(record)
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
        let lock = self.lock_clause();
        let backend = self.backend();
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| id.to_string());
        let mut change = Some(change);
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let row: Option<GroupRow> = sqlx::query_as(&format!(
                "SELECT {GROUP_COLUMNS} FROM org_groups r WHERE r.org_id = $1 AND r.id = $2{lock}"
            ))
            .bind(org_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.ok_or(StoreError::NotFound)?;
            let links = group_links!(tx, id);
            let current = row.into_resource(links)?;
            if let Some(expected) = expected_version {
                if expected != current.version {
                    return Err(StoreError::VersionMismatch {
                        current: current.version,
                    });
                }
            }
            let mut before = current.resource.clone();
            if !current.links.is_empty() {
                before["members"] = current
                    .links
                    .iter()
                    .map(|l| json!({ "value": l.id }))
                    .collect();
            }
            let change = change.take().expect("called once");
            let doc = match change(&before) {
                Ok(doc) => doc,
                Err(e) => return Ok(Err(e)),
            };
            let old: BTreeSet<String> = current.links.iter().map(|l| l.id.clone()).collect();
            let new_members = member_ids(&doc);
            let new: BTreeSet<String> = new_members.iter().cloned().collect();
            let mut stored = doc.clone();
            if let Some(obj) = stored.as_object_mut() {
                obj.remove("members");
            }
            let attrs_changed = stored != current.resource;
            if !attrs_changed && old == new {
                return Ok(Ok(current));
            }
            let display_name = text(doc.get("displayName"))
                .ok_or_else(|| StoreError::InvalidInput("displayName is required".into()))?;
            let added: Vec<&String> = new_members.iter().filter(|m| !old.contains(*m)).collect();
            let removed: Vec<&String> = old.difference(&new).collect();
            for m in &added {
                add_member!(tx, org_id, id, *m);
            }
            for m in &removed {
                sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(*m)
                    .execute(&mut *tx)
                    .await?;
            }
            let now = now_ms().max(current.updated_at);
            sqlx::query(
                "UPDATE org_groups SET display_name = $1, display_name_key = $2, external_id = $3, \
                 resource = $4, version = version + 1, updated_at = $5 WHERE org_id = $6 AND id = $7",
            )
            .bind(&display_name)
            .bind(display_name.to_lowercase())
            .bind(text(doc.get("externalId")))
            .bind(serde_json::to_string(&stored)?)
            .bind(now)
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let links = group_links!(tx, id);
            let updated = ScimResource {
                id: id.to_string(),
                resource: stored,
                links,
                version: current.version + 1,
                created_at: current.created_at,
                updated_at: now,
            };
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            let document = updated.document("Group");
            if attrs_changed {
                insert_event!(tx, backend, org_id, "group.updated", "Group", id, &document);
            }
            for (kind, list) in [
                ("group.member.added", &added),
                ("group.member.removed", &removed),
            ] {
                for m in list.iter() {
                    let data = member_event(id, &display_name, m);
                    insert_event!(tx, backend, org_id, kind, "Group", id, &data);
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(Ok(updated))
        })
    }

    /// This organization's events after the cursor `after` (0 for the first), oldest first.
    pub async fn list_events(&self, org_id: &str, after: i64, limit: i64) -> Result<Vec<Event>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            seq: i64,
            id: String,
            kind: String,
            resource_type: String,
            resource_id: String,
            data: String,
            created_at: i64,
        }
        let rows: Vec<Row> = read!(self, |p| {
            sqlx::query_as(
                "SELECT seq, id, kind, resource_type, resource_id, data, created_at FROM events \
                 WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(org_id)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(Event {
                    seq: r.seq,
                    id: r.id,
                    kind: r.kind,
                    resource_type: r.resource_type,
                    resource_id: r.resource_id,
                    data: serde_json::from_str(&r.data)?,
                    created_at: r.created_at,
                })
            })
            .collect()
    }
}
