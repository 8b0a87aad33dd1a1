//! The rows of `users` and `org_groups` read as SCIM resources, and the columns kept in step
//! with a user's document.

use std::collections::BTreeSet;

use lanyard_scim::document;
use serde_json::Value;

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
    /// The stored document with the columns the admin API edits laid over it.
    fn read(row: &impl Columns) -> Result<Self> {
        let stored = Stored::read(row)?;
        let columns = document::UserColumns {
            user_name: row.get("user_name")?,
            active: row.get("active")?,
            external_id: row.get("external_id")?,
            display_name: row.get("display_name")?,
            given_name: row.get("given_name")?,
            family_name: row.get("family_name")?,
            email: row.get("email")?,
        };
        let doc = document::user_attributes(serde_json::from_str(&stored.resource)?, columns);
        Ok(UserRow(stored.into_resource(doc)))
    }
}

impl Record for GroupRow {
    fn read(row: &impl Columns) -> Result<Self> {
        let stored = Stored::read(row)?;
        let doc = document::group_attributes(
            serde_json::from_str(&stored.resource)?,
            row.get("display_name")?,
            row.get("external_id")?,
        );
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

/// A non-empty string at `v`.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The columns of `users` that mirror a SCIM document, and the addresses `user_emails` holds
/// for it.
pub(crate) struct UserColumns {
    pub(crate) columns: document::UserColumns,
    pub(crate) emails: BTreeSet<String>,
}

impl UserColumns {
    pub(crate) fn of(doc: &Value) -> Result<UserColumns> {
        let columns = document::UserColumns::of(doc)
            .ok_or_else(|| StoreError::InvalidInput("userName is required".into()))?;
        Ok(UserColumns {
            columns,
            emails: document_emails(doc),
        })
    }

    /// The parameters of the columns [`USER_COLUMN_NAMES`] names, in its order, with the
    /// document they mirror.
    pub(crate) fn binds(&self, doc: &Value) -> Result<Vec<Bind>> {
        let c = &self.columns;
        Ok(vec![
            c.user_name.as_str().into(),
            Bind::Text(c.user_name.to_lowercase()),
            c.email.as_deref().into(),
            c.given_name.as_deref().into(),
            c.family_name.as_deref().into(),
            c.display_name.as_deref().into(),
            Bind::Bool(c.active),
            c.external_id.as_deref().into(),
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
