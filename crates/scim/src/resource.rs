//! Reading a resource from a POST or PUT body (RFC 7644 §3.3, §3.5.1) into the form it is
//! stored in: attribute names spelled as the schema spells them, values of the declared types
//! (with Entra's string booleans), multi-valued attributes as arrays with at most one primary
//! element, read-only attributes dropped (the server owns them), unknown attributes refused.

use serde_json::{Map, Value};

use crate::eval::ResourceSchema;
use crate::patch::{coerce, elements, settle_primary};
use crate::schema::{Attribute, Mutability, Schema, Type};
use crate::{Error, ScimType};

/// The stored form of a request body for a resource of `schema`.
///
/// The `password` attribute is accepted and left out: Lanyard signs users in through their
/// identity provider and keeps no provisioned passwords.
pub fn from_request(body: &Value, schema: &ResourceSchema<'_>) -> Result<Value, Error> {
    let object = body.as_object().ok_or_else(|| {
        Error::new(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object",
        )
    })?;
    if let Some(schemas) = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
    {
        check_schemas(schemas, schema)?;
    }
    let mut out = Map::new();
    let mut used = vec![schema.core.id.to_string()];
    for (key, value) in object {
        if key.eq_ignore_ascii_case("schemas") || (tolerated(key) && value.is_object()) {
            continue;
        }
        if let Some(ext) = schema
            .extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(key))
        {
            let inner = match value {
                Value::Null => continue,
                Value::Object(inner) => inner,
                _ => {
                    return Err(Error::new(
                        ScimType::InvalidValue,
                        format!("{} must be an object of that schema's attributes", ext.id),
                    ))
                }
            };
            let members = read_members(inner, ext)?;
            if !members.is_empty() {
                used.push(ext.id.to_string());
                out.insert(ext.id.to_string(), Value::Object(members));
            }
            continue;
        }
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
            return Err(Error::new(
                ScimType::InvalidValue,
                format!("{key:?} is not a schema of this resource type"),
            ));
        }
        if let Some((name, value)) = read_member(schema.core, key, value)? {
            out.insert(name, value);
        }
    }
    for def in schema.core.attributes.iter().filter(|a| a.required) {
        let ok = match out.get(def.name) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(v) => !v.is_null(),
            None => false,
        };
        if !ok {
            return Err(Error::new(
                ScimType::InvalidValue,
                format!("{} is required", def.name),
            ));
        }
    }
    if let Some(Value::String(user_name)) = out.get("userName") {
        check_identifier("userName", user_name)?;
    }
    out.insert(
        "schemas".into(),
        Value::Array(used.into_iter().map(Value::String).collect()),
    );
    let doc = Value::Object(out);
    check_text(&doc)?;
    // Members are stored as rows, not in the document; everything else counts.
    let size = doc
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "members")
                .map(|(k, v)| k.len() + v.to_string().len())
                .sum::<usize>()
        })
        .unwrap_or(0);
    if size > MAX_DOCUMENT {
        return Err(Error::new(
            ScimType::InvalidValue,
            format!("the resource is {size} bytes; at most {MAX_DOCUMENT} are kept"),
        ));
    }
    Ok(doc)
}

/// A stored document seen under the schemas in force now: members of extensions that are no
/// longer defined (an organization deleted its extension) are left out.
pub fn retain_known(doc: &mut Value, schema: &ResourceSchema<'_>) {
    let known = |key: &str| {
        schema.core.id.eq_ignore_ascii_case(key)
            || schema
                .extensions
                .iter()
                .any(|s| s.id.eq_ignore_ascii_case(key))
    };
    if let Some(obj) = doc.as_object_mut() {
        obj.retain(|k, _| !k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) || known(k));
        if let Some(Value::Array(list)) = obj.get_mut("schemas") {
            list.retain(|s| s.as_str().is_some_and(known));
        }
    }
}

/// Longest string value kept, in bytes.
pub const MAX_STRING: usize = 16 * 1024;
/// Most elements of a multi-valued attribute (group members excepted: they are rows).
pub const MAX_VALUES: usize = 100;
/// Largest stored document (without group members), in bytes.
pub const MAX_DOCUMENT: usize = 64 * 1024;

/// Every string of a document: bounded, and free of control characters (which no directory
/// attribute holds and which some databases cannot store).
fn check_text(value: &Value) -> Result<(), Error> {
    match value {
        Value::String(s) => {
            if s.len() > MAX_STRING {
                return Err(Error::new(
                    ScimType::InvalidValue,
                    format!(
                        "a value is {} bytes long; at most {MAX_STRING} are kept",
                        s.len()
                    ),
                ));
            }
            if s.chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            {
                return Err(Error::new(
                    ScimType::InvalidValue,
                    format!("{s:?} holds a control character"),
                ));
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_text),
        Value::Object(map) => map.values().try_for_each(check_text),
        _ => Ok(()),
    }
}

/// A unique identifier must look the same to people as to the server: no surrounding spaces
/// and no invisible formatting characters that would make two equal-looking names differ.
fn check_identifier(name: &str, value: &str) -> Result<(), Error> {
    let invisible = |c: char| {
        matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
    };
    if value.trim() != value || value.chars().any(|c| invisible(c) || c.is_control()) {
        return Err(Error::new(
            ScimType::InvalidValue,
            format!("{name} {value:?} has surrounding spaces or invisible characters"),
        ));
    }
    Ok(())
}

/// Schema URNs that clients list beside a resource's own and that are accepted and ignored:
/// Entra ID names its directory's group schema beside the core Group schema when it creates a
/// group (it sends no attributes under it).
const TOLERATED_SCHEMAS: &[&str] =
    &["http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"];

fn tolerated(urn: &str) -> bool {
    TOLERATED_SCHEMAS
        .iter()
        .any(|t| t.eq_ignore_ascii_case(urn))
}

fn check_schemas(schemas: &Value, schema: &ResourceSchema<'_>) -> Result<(), Error> {
    let list = schemas.as_array().ok_or_else(|| {
        Error::new(
            ScimType::InvalidSyntax,
            "schemas must be an array of schema URNs",
        )
    })?;
    for item in list {
        let urn = item
            .as_str()
            .ok_or_else(|| Error::new(ScimType::InvalidSyntax, "schemas must hold strings"))?;
        let known = urn.eq_ignore_ascii_case(schema.core.id)
            || tolerated(urn)
            || schema
                .extensions
                .iter()
                .any(|s| s.id.eq_ignore_ascii_case(urn));
        if !known {
            return Err(Error::new(
                ScimType::InvalidValue,
                format!("schema {urn:?} is not one of this resource type's schemas"),
            ));
        }
    }
    Ok(())
}

fn read_members(object: &Map<String, Value>, schema: &Schema) -> Result<Map<String, Value>, Error> {
    let mut out = Map::new();
    for (key, value) in object {
        if let Some((name, value)) = read_member(schema, key, value)? {
            out.insert(name, value);
        }
    }
    Ok(out)
}

/// One attribute of a body: its canonical name and stored value, or nothing when the server
/// owns or does not keep it.
fn read_member(
    schema: &Schema,
    key: &str,
    value: &Value,
) -> Result<Option<(String, Value)>, Error> {
    let def = schema.attribute(key).ok_or_else(|| {
        Error::new(
            ScimType::InvalidValue,
            format!("{key:?} is not an attribute of {}", schema.name),
        )
    })?;
    if def.mutability == Mutability::ReadOnly || def.name == "password" || value.is_null() {
        return Ok(None);
    }
    let value = if def.multi_valued {
        let mut items: Vec<Value> = elements(def, value)?
            .into_iter()
            .filter(|v| !v.is_null())
            .map(|v| without_read_only(def, v))
            .collect();
        if items.is_empty() {
            return Ok(None);
        }
        if items.len() > MAX_VALUES && def.name != "members" {
            return Err(Error::new(
                ScimType::InvalidValue,
                format!(
                    "{} holds {} values; at most {MAX_VALUES} are kept",
                    def.name,
                    items.len()
                ),
            ));
        }
        settle_primary(&mut items);
        Value::Array(items)
    } else {
        without_read_only(def, coerce(def, value)?)
    };
    Ok(Some((def.name.to_string(), value)))
}

/// Drops the read-only sub-attributes of a complex value (a member's `display`, a manager's
/// `displayName`): the server fills those in.
fn without_read_only(def: &Attribute, value: Value) -> Value {
    match (def.kind, value) {
        (Type::Complex, Value::Object(mut map)) => {
            map.retain(|k, v| {
                !v.is_null()
                    && def
                        .sub(k)
                        .is_some_and(|s| s.mutability != Mutability::ReadOnly)
            });
            Value::Object(map)
        }
        (_, v) => v,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

    fn user_schema() -> ResourceSchema<'static> {
        ResourceSchema {
            core: &USER_SCHEMA,
            extensions: &[&ENTERPRISE_USER_SCHEMA],
        }
    }

    #[test]
    fn canonical_names_types_and_server_owned_attributes() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "ada@example.com",
            "id": "chosen-by-client",
            "meta": {"created": "2020-01-01T00:00:00Z"},
            "Active": "False",
            "password": "hunter2",
            "name": {"GivenName": "Ada"},
            "emails": [
                {"value": "a@x", "primary": true},
                {"value": "b@x", "primary": "True", "display": null}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "R&D",
                "manager": {"value": "m1", "displayName": "ignored"}
            }
        });
        let out = from_request(&body, &user_schema()).unwrap();
        assert_eq!(
            out,
            json!({
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ],
                "userName": "ada@example.com",
                "active": false,
                "name": {"givenName": "Ada"},
                "emails": [
                    {"value": "a@x", "primary": false},
                    {"value": "b@x", "primary": true}
                ],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "department": "R&D",
                    "manager": {"value": "m1"}
                }
            })
        );
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let cases = [
            (json!([1]), ScimType::InvalidSyntax, "JSON object"),
            (
                json!({"displayName": "x"}),
                ScimType::InvalidValue,
                "userName is required",
            ),
            (
                json!({"userName": "  "}),
                ScimType::InvalidValue,
                "userName is required",
            ),
            (
                json!({"userName": "a", "shoeSize": 4}),
                ScimType::InvalidValue,
                "shoeSize",
            ),
            (
                json!({"userName": "a", "active": "maybe"}),
                ScimType::InvalidValue,
                "active",
            ),
            (
                json!({"userName": "a", "urn:x:y": {}}),
                ScimType::InvalidValue,
                "urn:x:y",
            ),
            (
                json!({"userName": "a", "schemas": ["urn:x"]}),
                ScimType::InvalidValue,
                "urn:x",
            ),
            (
                json!({"userName": "a", "schemas": "x"}),
                ScimType::InvalidSyntax,
                "array",
            ),
            (
                json!({"userName": "a", "name": {"shoe": "x"}}),
                ScimType::InvalidValue,
                "shoe",
            ),
            (
                json!({"userName": "a", "aaa\u{e9}": 1}),
                ScimType::InvalidValue,
                "aaa",
            ),
            (
                json!({"userName": "a", "title": "x\u{0}y"}),
                ScimType::InvalidValue,
                "control",
            ),
            (
                json!({"userName": " ada"}),
                ScimType::InvalidValue,
                "surrounding",
            ),
            (
                json!({"userName": "ada\u{200b}"}),
                ScimType::InvalidValue,
                "invisible",
            ),
            (
                json!({"userName": "a", "title": "x".repeat(MAX_STRING + 1)}),
                ScimType::InvalidValue,
                "bytes long",
            ),
            (
                json!({"userName": "a", "emails": (0..101).map(|i| json!({"value": i.to_string()})).collect::<Vec<_>>()}),
                ScimType::InvalidValue,
                "at most 100",
            ),
        ];
        for (body, kind, needle) in cases {
            let e = from_request(&body, &user_schema()).unwrap_err();
            assert_eq!(e.scim_type, kind, "{body}");
            assert!(e.message.contains(needle), "{body}: {}", e.message);
        }
    }

    #[test]
    fn groups_keep_members_without_display() {
        let schema = ResourceSchema {
            core: &GROUP_SCHEMA,
            extensions: &[],
        };
        let out = from_request(
            &json!({"displayName": "Eng", "members": [{"value": "u1", "display": "Ada"}]}),
            &schema,
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "u1"}]));
        assert!(from_request(&json!({"members": []}), &schema).is_err());
    }

    #[test]
    fn entra_ids_group_schema_beside_the_core_one_is_accepted_and_ignored() {
        let schema = ResourceSchema {
            core: &GROUP_SCHEMA,
            extensions: &[],
        };
        let entra = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
        let out = from_request(
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", entra],
                "externalId": "e-1",
                "displayName": "Eng",
                "members": []
            }),
            &schema,
        )
        .unwrap();
        assert_eq!(out["displayName"], "Eng");
        assert!(out.get(entra).is_none());
        // Any other foreign schema is still refused.
        let other = json!({"schemas": ["http://example.com/Group"], "displayName": "Eng"});
        assert!(from_request(&other, &schema).is_err());
    }
}
