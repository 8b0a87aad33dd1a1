//! Evaluating a filter against a resource held as JSON: used where SCIM applies a filter to one
//! resource in memory (PATCH value paths like `emails[type eq "work"]`). Listing resources
//! compiles filters to SQL in the store instead.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::schema::{Attribute, Schema, Type};

/// The schemas a resource is read under: its core schema and its extensions.
#[derive(Debug, Clone, Copy)]
pub struct ResourceSchema<'s> {
    pub core: &'s Schema<'s>,
    pub extensions: &'s [&'s Schema<'s>],
}

impl<'s> ResourceSchema<'s> {
    /// The definition of a top-level attribute and the JSON object holding it (the resource, or
    /// the extension's object), for a possibly URN-qualified path.
    fn locate<'v>(
        &self,
        resource: &'v Value,
        path: &AttrPath,
    ) -> Option<(&'v Value, &'s Attribute<'s>)> {
        match &path.urn {
            None => Some((resource, self.core.attribute(&path.name)?)),
            Some(urn) if urn.eq_ignore_ascii_case(self.core.id) => {
                Some((resource, self.core.attribute(&path.name)?))
            }
            Some(urn) => {
                let schema = self
                    .extensions
                    .iter()
                    .find(|s| s.id.eq_ignore_ascii_case(urn))?;
                Some((field(resource, schema.id)?, schema.attribute(&path.name)?))
            }
        }
    }
}

/// A member of a JSON object by name, compared case-insensitively (SCIM attribute names are).
pub fn field<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Whether `resource` matches `filter`.
pub fn matches(filter: &Filter, resource: &Value, schema: &ResourceSchema<'_>) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource, schema) && matches(b, resource, schema),
        Filter::Or(a, b) => matches(a, resource, schema) || matches(b, resource, schema),
        Filter::Not(f) => !matches(f, resource, schema),
        Filter::Present(path) => {
            values(resource, path, schema).is_some_and(|(vals, _)| vals.iter().any(|v| present(v)))
        }
        Filter::Compare { path, op, value } => match values(resource, path, schema) {
            Some((vals, def)) => compare_any(&vals, *op, value, def),
            None => matches!(
                (op, value),
                (CompareOp::Eq, CompValue::Null) | (CompareOp::Ne, _)
            ),
        },
        Filter::ValuePath { path, filter } => {
            let Some((holder, def)) = schema.locate(resource, path) else {
                return false;
            };
            let Some(items) = field(holder, def.name).and_then(Value::as_array) else {
                return false;
            };
            items.iter().any(|item| element_matches(filter, item, def))
        }
    }
}

/// Whether one element of a complex multi-valued attribute matches a value-path filter (whose
/// paths name the element's sub-attributes).
pub fn element_matches(filter: &Filter, element: &Value, def: &Attribute) -> bool {
    match filter {
        Filter::And(a, b) => element_matches(a, element, def) && element_matches(b, element, def),
        Filter::Or(a, b) => element_matches(a, element, def) || element_matches(b, element, def),
        Filter::Not(f) => !element_matches(f, element, def),
        Filter::Present(path) => def
            .sub(&path.name)
            .and_then(|s| field(element, s.name))
            .is_some_and(present),
        Filter::Compare { path, op, value } => match def.sub(&path.name) {
            Some(sub) => match field(element, sub.name) {
                Some(v) if !v.is_null() => compare_any(&[v], *op, value, sub),
                _ => matches!(
                    (op, value),
                    (CompareOp::Eq, CompValue::Null) | (CompareOp::Ne, _)
                ),
            },
            None => false,
        },
        // Value paths do not nest.
        Filter::ValuePath { .. } => false,
    }
}

/// The values a path denotes in a resource, with the definition to compare them by. A
/// complex multi-valued attribute without a sub-attribute stands for its elements' `value`s.
fn values<'v, 's>(
    resource: &'v Value,
    path: &AttrPath,
    schema: &ResourceSchema<'s>,
) -> Option<(Vec<&'v Value>, &'s Attribute<'s>)> {
    let (holder, def) = schema.locate(resource, path)?;
    let value = field(holder, def.name)?;
    let (sub_name, items): (Option<&str>, Vec<&Value>) = match value {
        Value::Array(items) => (
            path.sub
                .as_deref()
                .or((def.kind == Type::Complex).then_some("value")),
            items.iter().collect(),
        ),
        other => (path.sub.as_deref(), vec![other]),
    };
    match sub_name {
        None => Some((items, def)),
        Some(name) => {
            let sub = def.sub(name)?;
            Some((
                items
                    .into_iter()
                    .filter_map(|i| field(i, sub.name))
                    .collect(),
                sub,
            ))
        }
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare_any(values: &[&Value], op: CompareOp, expected: &CompValue, def: &Attribute) -> bool {
    if op == CompareOp::Ne {
        return !values
            .iter()
            .any(|v| compare(v, CompareOp::Eq, expected, def));
    }
    values.iter().any(|v| compare(v, op, expected, def))
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue, def: &Attribute) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (actual, expected) {
        (_, CompValue::Null) => return op == CompareOp::Eq && actual.is_null(),
        (Value::Bool(a), CompValue::Bool(b)) => return matches!(op, CompareOp::Eq) && a == b,
        (Value::Number(a), CompValue::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), CompValue::String(b)) if def.kind == Type::DateTime => {
            let parse = |s: &str| OffsetDateTime::parse(s, &Rfc3339).ok();
            parse(a).zip(parse(b)).map(|(a, b)| a.cmp(&b))
        }
        (Value::String(a), CompValue::String(b)) => {
            let (a, b) = if def.case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            return match op {
                CompareOp::Eq => a == b,
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                CompareOp::Gt => a > b,
                CompareOp::Ge => a >= b,
                CompareOp::Lt => a < b,
                CompareOp::Le => a <= b,
                CompareOp::Ne => a != b,
            };
        }
        _ => None,
    };
    match (ordering, op) {
        (Some(o), CompareOp::Eq) => o == Ordering::Equal,
        (Some(o), CompareOp::Gt) => o == Ordering::Greater,
        (Some(o), CompareOp::Ge) => o != Ordering::Less,
        (Some(o), CompareOp::Lt) => o == Ordering::Less,
        (Some(o), CompareOp::Le) => o != Ordering::Greater,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse_filter;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA.id, ENTERPRISE_USER_SCHEMA.id],
            "id": "2819c223",
            "userName": "Bjensen@Example.com",
            "name": { "givenName": "Barbara", "familyName": "Jensen" },
            "active": true,
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@jensen.org", "type": "home" }
            ],
            "meta": { "lastModified": "2011-05-13T04:42:34Z" },
            ENTERPRISE_USER_SCHEMA.id: { "department": "Tour Operations", "manager": { "value": "26118915" } }
        })
    }

    fn check(filter: &str) -> bool {
        let extensions = [&ENTERPRISE_USER_SCHEMA];
        let schema = ResourceSchema {
            core: &USER_SCHEMA,
            extensions: &extensions,
        };
        matches(&parse_filter(filter).unwrap(), &user(), &schema)
    }

    #[test]
    fn strings_are_case_insensitive_unless_case_exact() {
        assert!(check(r#"userName eq "bjensen@example.com""#));
        assert!(check(r#"USERNAME sw "BJ""#));
        assert!(!check(r#"id eq "2819C223""#), "id is caseExact");
        assert!(check(r#"id eq "2819c223""#));
        assert!(check(r#"name.familyName co "ens""#));
    }

    #[test]
    fn multi_valued_and_value_paths() {
        assert!(
            check(r#"emails co "jensen.org""#),
            "a complex multi-valued attribute compares its values"
        );
        assert!(check(r#"emails.type eq "home""#));
        assert!(check(
            r#"emails[type eq "work" and value ew "example.com"]"#
        ));
        assert!(!check(
            r#"emails[type eq "home" and value ew "example.com"]"#
        ));
        assert!(check(r#"emails[primary eq true]"#));
        assert!(check(r#"emails ne "nobody@example.com""#));
        assert!(!check(r#"emails ne "babs@jensen.org""#));
    }

    #[test]
    fn types_extensions_and_presence() {
        assert!(check("active eq true"));
        assert!(!check("active eq false"));
        assert!(
            check(r#"meta.lastModified gt "2011-05-13T04:42:33+00:00""#),
            "dates compare as dates"
        );
        assert!(
            !check(r#"meta.lastModified gt "2011-05-13T05:42:34+01:00""#),
            "same instant"
        );
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#
        ));
        assert!(check("title eq null"));
        assert!(!check("title pr"));
        assert!(check("name pr and not (title pr)"));
        assert!(!check(r#"nope eq "x""#));
    }
}
