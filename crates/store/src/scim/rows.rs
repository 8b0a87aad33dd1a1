//! The rows of `users` and `org_groups` read as SCIM resources, and the columns kept in step
//! with a user's document.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::{ScimLink, ScimResource};
use crate::db::{Bind, Columns, Record};
use crate::user_emails::document_emails;
use crate::{Result, StoreError};

pub(crate) const USER_COLUMNS: &str = "r.id, r.user_name, r.email, r.given_name, r.family_name, \
     r.display_name, r.active, r.external_id, r.resource, r.version, r.created_at, r.updated_at";
pub(crate) const GROUP_COLUMNS: &str =
    "r.id, r.display_name, r.external_id, r.resource, r.version, r.created_at, r.updated_at";

/// A resource's stored document and bookkeeping, with its memberships as the query read them
/// (a JSON array of `[id, display]` in a `links` column, NULL when the query did not read
/// them).
struct Stored {
    id: String,
    resource: String,
    links: Vec<ScimLink>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl Stored {
    fn read(row: &impl Columns) -> Result<Stored> {
        let links: Option<String> = row.get("links")?;
        Ok(Stored {
            id: row.get("id")?,
            resource: row.get("resource")?,
            links: parse_links(links.as_deref())?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }

    fn into_resource(self, doc: Value) -> ScimResource {
        ScimResource {
            id: self.id,
            resource: doc,
            links: self.links,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
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

/// A user read from `r.*` (see [`USER_COLUMNS`]).
pub(crate) struct UserRow(pub(crate) ScimResource);

/// A group read from `r.*` (see [`GROUP_COLUMNS`]).
pub(crate) struct GroupRow(pub(crate) ScimResource);

impl Record for UserRow {
    /// The stored document with the columns laid over it: the admin API edits the columns, and
    /// they are the truth for the attributes they hold.
    fn read(row: &impl Columns) -> Result<Self> {
        let stored = Stored::read(row)?;
        let mut doc: Value = serde_json::from_str(&stored.resource)?;
        if !doc.is_object() {
            doc = json!({});
        }
        let obj = doc.as_object_mut().expect("an object");
        obj.entry("schemas")
            .or_insert_with(|| json!([lanyard_scim::schema::USER]));
        obj.insert("userName".into(), Value::String(row.get("user_name")?));
        // `active` shows when the client set it, or when an admin deactivated the user.
        let active: bool = row.get("active")?;
        if obj.contains_key("active") || !active {
            obj.insert("active".into(), Value::Bool(active));
        }
        set_or_remove(obj, "externalId", row.get("external_id")?);
        set_or_remove(obj, "displayName", row.get("display_name")?);
        overlay_name(obj, row.get("given_name")?, row.get("family_name")?);
        if let Some(email) = row.get::<Option<String>>("email")? {
            overlay_email(obj, email);
        }
        Ok(UserRow(stored.into_resource(doc)))
    }
}

fn overlay_name(obj: &mut Map<String, Value>, given: Option<String>, family: Option<String>) {
    let name = obj
        .entry("name")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(name) = name.as_object_mut() {
        set_or_remove(name, "givenName", given);
        set_or_remove(name, "familyName", family);
    }
    if obj
        .get("name")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        obj.remove("name");
    }
}

/// The `email` column as the primary address, unless the document lists it already.
fn overlay_email(obj: &mut Map<String, Value>, email: String) {
    let emails = obj.entry("emails").or_insert_with(|| json!([]));
    let Some(list) = emails.as_array_mut() else {
        return;
    };
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

impl Record for GroupRow {
    fn read(row: &impl Columns) -> Result<Self> {
        let stored = Stored::read(row)?;
        let mut doc: Value = serde_json::from_str(&stored.resource)?;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert(
                "displayName".into(),
                Value::String(row.get("display_name")?),
            );
            set_or_remove(obj, "externalId", row.get("external_id")?);
        }
        Ok(GroupRow(stored.into_resource(doc)))
    }
}

impl Record for ScimLink {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok(ScimLink {
            id: row.get("id")?,
            display: row.get("display")?,
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

/// A non-empty string at `v`.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The columns of `users` that mirror a SCIM document.
pub(crate) struct UserColumns {
    pub(crate) user_name: String,
    pub(crate) email: Option<String>,
    pub(crate) given_name: Option<String>,
    pub(crate) family_name: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) active: bool,
    pub(crate) external_id: Option<String>,
    pub(crate) emails: BTreeSet<String>,
}

impl UserColumns {
    pub(crate) fn of(doc: &Value) -> Result<UserColumns> {
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

    /// The parameters of the columns [`USER_COLUMN_NAMES`] names, in its order, with the
    /// document they mirror.
    pub(crate) fn binds(&self, doc: &Value) -> Result<Vec<Bind>> {
        Ok(vec![
            self.user_name.as_str().into(),
            Bind::Text(self.user_name.to_lowercase()),
            self.email.as_deref().into(),
            self.given_name.as_deref().into(),
            self.family_name.as_deref().into(),
            self.display_name.as_deref().into(),
            Bind::Bool(self.active),
            self.external_id.as_deref().into(),
            Bind::Text(serde_json::to_string(doc)?),
        ])
    }
}

/// The `users` columns [`UserColumns::binds`] sets, in its order.
pub(crate) const USER_COLUMN_NAMES: [&str; 9] = [
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

/// The members a group document lists (`members[].value`), in order, without repeats.
pub(crate) fn member_ids(doc: &Value) -> Vec<String> {
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
