//! A stored resource as its SCIM document: the one place a document is put together, for
//! responses and for the outbox alike.
//!
//! The store keeps a resource as its client-writable attributes (the JSON a POST, PUT or PATCH
//! left), the columns an admin may edit beside them, and its memberships as rows; it hands back
//! a [`Stored`]. From it come `id` and `meta` (RFC 7643 §3.1), the membership attribute
//! (`groups` of a User, §4.1.2; `members` of a Group, §4.2), and for responses `meta.location`
//! and each membership's `$ref` and `type`.

use serde_json::{json, Map, Value};

use crate::eval::ResourceSchema;
use crate::resource::retain_known;

/// A member of a group, or a group a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: String,
    pub display: Option<String>,
}

/// A User or Group as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: String,
    /// `schemas` and the client-writable attributes, without `id`, `meta` and the membership
    /// attribute.
    pub resource: Value,
    /// A user's groups, or a group's members.
    pub links: Vec<Link>,
    pub version: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// The two resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    User,
    Group,
}

impl ResourceType {
    /// The name `meta.resourceType` carries.
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }

    /// The endpoint under the SCIM base URL.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "Users",
            ResourceType::Group => "Groups",
        }
    }

    /// The attribute that lists memberships.
    pub fn links_attribute(self) -> &'static str {
        match self {
            ResourceType::User => "groups",
            ResourceType::Group => "members",
        }
    }
}

impl Stored {
    /// The document with `id`, `meta` (all but `location`) and the membership attribute: what
    /// events carry, and what [`Stored::representation`] completes for responses.
    pub fn document(&self, resource_type: ResourceType) -> Value {
        let mut doc = self.resource.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("id".into(), Value::String(self.id.clone()));
            let links_name = resource_type.links_attribute();
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
                    "resourceType": resource_type.name(),
                    "created": rfc3339(self.created_at),
                    "lastModified": rfc3339(self.updated_at),
                    "version": format!("W/\"{}\"", self.version),
                }),
            );
        }
        doc
    }

    /// The full representation a response carries, under the SCIM base URL `base`: the
    /// document with only the schemas in `schema`, `meta.location`, and each membership's
    /// `$ref` and `type` (a group's members come back as a client sends them: value, `$ref`
    /// and `type`).
    pub fn representation(
        &self,
        resource_type: ResourceType,
        schema: &ResourceSchema<'_>,
        base: &str,
    ) -> Value {
        let mut doc = self.document(resource_type);
        retain_known(&mut doc, schema);
        doc["meta"]["location"] =
            Value::String(format!("{base}/{}/{}", resource_type.endpoint(), self.id));
        let Some(Value::Array(items)) = doc.get_mut(resource_type.links_attribute()) else {
            return doc;
        };
        for item in items.iter_mut() {
            let id = item["value"].as_str().unwrap_or_default().to_string();
            match resource_type {
                ResourceType::User => {
                    item["$ref"] = Value::String(format!("{base}/Groups/{id}"));
                    item["type"] = Value::String("direct".into());
                }
                ResourceType::Group => {
                    if let Some(obj) = item.as_object_mut() {
                        obj.remove("display");
                    }
                    item["$ref"] = Value::String(format!("{base}/Users/{id}"));
                    item["type"] = Value::String("User".into());
                }
            }
        }
        doc
    }
}

/// The attributes of a user an admin edits outside SCIM, kept in columns beside the document;
/// they are the truth for what they hold.
#[derive(Debug, Clone, Default)]
pub struct UserColumns {
    pub user_name: String,
    pub active: bool,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The primary address.
    pub email: Option<String>,
}

impl UserColumns {
    /// The columns a user document sets: its `userName`, `active` (true when absent), the
    /// names, and the primary address (the one marked primary, else the first). Empty strings
    /// count as absent. `None` without a `userName`.
    pub fn of(doc: &Value) -> Option<UserColumns> {
        let text = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let emails: &[Value] = doc
            .get("emails")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let email = emails
            .iter()
            .find(|e| e.get("primary") == Some(&Value::Bool(true)))
            .or(emails.first())
            .and_then(|e| text(e.get("value")));
        Some(UserColumns {
            user_name: text(doc.get("userName"))?,
            active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
            external_id: text(doc.get("externalId")),
            display_name: text(doc.get("displayName")),
            given_name: text(doc.pointer("/name/givenName")),
            family_name: text(doc.pointer("/name/familyName")),
            email,
        })
    }
}

/// A user's stored attributes with its columns laid over them. `active` shows when the client
/// set it, or when an admin deactivated the user; the `email` column shows as the primary
/// address unless the document lists it already.
pub fn user_attributes(stored: Value, columns: UserColumns) -> Value {
    let mut doc = if stored.is_object() {
        stored
    } else {
        json!({})
    };
    let Some(obj) = doc.as_object_mut() else {
        return doc;
    };
    obj.entry("schemas")
        .or_insert_with(|| json!([crate::schema::USER]));
    obj.insert("userName".into(), Value::String(columns.user_name));
    if obj.contains_key("active") || !columns.active {
        obj.insert("active".into(), Value::Bool(columns.active));
    }
    set_or_remove(obj, "externalId", columns.external_id);
    set_or_remove(obj, "displayName", columns.display_name);
    overlay_name(obj, columns.given_name, columns.family_name);
    if let Some(email) = columns.email {
        overlay_email(obj, email);
    }
    doc
}

/// A group's stored attributes with its columns laid over them.
pub fn group_attributes(
    mut stored: Value,
    display_name: String,
    external_id: Option<String>,
) -> Value {
    if let Some(obj) = stored.as_object_mut() {
        obj.insert("displayName".into(), Value::String(display_name));
        set_or_remove(obj, "externalId", external_id);
    }
    stored
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{GROUP_SCHEMA, USER_SCHEMA};

    fn stored(resource: Value, links: Vec<Link>) -> Stored {
        Stored {
            id: "u1".into(),
            resource,
            links,
            version: 3,
            created_at: 0,
            updated_at: 1_000,
        }
    }

    #[test]
    fn a_document_has_id_meta_and_memberships() {
        let doc = stored(
            json!({ "schemas": [crate::schema::USER], "userName": "ada", "groups": ["stale"] }),
            vec![Link {
                id: "g1".into(),
                display: Some("Eng".into()),
            }],
        )
        .document(ResourceType::User);
        assert_eq!(doc["id"], "u1");
        assert_eq!(doc["groups"], json!([{ "value": "g1", "display": "Eng" }]));
        assert_eq!(
            doc["meta"],
            json!({
                "resourceType": "User",
                "created": "1970-01-01T00:00:00Z",
                "lastModified": "1970-01-01T00:00:01Z",
                "version": "W/\"3\"",
            })
        );
        let none = stored(json!({ "groups": ["stale"] }), vec![]).document(ResourceType::User);
        assert!(none.get("groups").is_none());
    }

    #[test]
    fn a_representation_has_locations_and_references() {
        let user_schema = ResourceSchema {
            core: &USER_SCHEMA,
            extensions: &[],
        };
        let user = stored(
            json!({ "schemas": [crate::schema::USER, "urn:gone"], "urn:gone": { "a": 1 } }),
            vec![Link {
                id: "g1".into(),
                display: Some("Eng".into()),
            }],
        )
        .representation(ResourceType::User, &user_schema, "https://x/scim/v2");
        assert_eq!(user["meta"]["location"], "https://x/scim/v2/Users/u1");
        assert_eq!(user["schemas"], json!([crate::schema::USER]));
        assert!(user.get("urn:gone").is_none());
        assert_eq!(
            user["groups"][0],
            json!({ "value": "g1", "display": "Eng", "$ref": "https://x/scim/v2/Groups/g1", "type": "direct" })
        );
        let group_schema = ResourceSchema {
            core: &GROUP_SCHEMA,
            extensions: &[],
        };
        let mut group = stored(
            json!({}),
            vec![Link {
                id: "u9".into(),
                display: Some("Ada".into()),
            }],
        );
        group.id = "g1".into();
        let group = group.representation(ResourceType::Group, &group_schema, "https://x/scim/v2");
        assert_eq!(group["meta"]["location"], "https://x/scim/v2/Groups/g1");
        assert_eq!(
            group["members"],
            json!([{ "value": "u9", "$ref": "https://x/scim/v2/Users/u9", "type": "User" }])
        );
    }

    #[test]
    fn a_documents_columns() {
        let cols = UserColumns::of(&json!({
            "userName": "ada",
            "active": false,
            "displayName": "",
            "name": { "familyName": "Lovelace" },
            "emails": [{ "value": "w@x" }, { "value": "p@x", "primary": true }],
        }))
        .expect("columns");
        assert_eq!(cols.user_name, "ada");
        assert!(!cols.active);
        assert_eq!(cols.display_name, None);
        assert_eq!(cols.family_name.as_deref(), Some("Lovelace"));
        assert_eq!(cols.email.as_deref(), Some("p@x"));
        let first = UserColumns::of(&json!({ "userName": "b", "emails": [{ "value": "w@x" }] }));
        assert_eq!(first.expect("columns").email.as_deref(), Some("w@x"));
        assert!(UserColumns::of(&json!({ "userName": "" })).is_none());
    }

    #[test]
    fn user_columns_are_the_truth_for_what_they_hold() {
        let doc = user_attributes(
            json!({
                "userName": "old",
                "displayName": "Old",
                "name": { "givenName": "Old" },
                "emails": [{ "value": "b@x", "primary": true }],
            }),
            UserColumns {
                user_name: "ada".into(),
                active: true,
                email: Some("a@x".into()),
                ..Default::default()
            },
        );
        assert_eq!(doc["userName"], "ada");
        assert_eq!(doc["schemas"], json!([crate::schema::USER]));
        // `active` was not set by the client and the user is active: absent.
        assert!(doc.get("active").is_none());
        assert!(doc.get("displayName").is_none() && doc.get("name").is_none());
        assert_eq!(
            doc["emails"],
            json!([{ "value": "a@x", "primary": true }, { "value": "b@x" }])
        );
        let inactive = user_attributes(
            json!({ "emails": [{ "value": "A@x" }] }),
            UserColumns {
                user_name: "ada".into(),
                active: false,
                email: Some("a@X".into()),
                ..Default::default()
            },
        );
        assert_eq!(inactive["active"], false);
        assert_eq!(inactive["emails"], json!([{ "value": "A@x" }]));
    }
}
