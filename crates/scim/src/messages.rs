//! SCIM message shapes (RFC 7644 §3.4.2, §3.12): list responses, paging, sorting, errors, and
//! attribute projection (`attributes` / `excludedAttributes` with each attribute's `returned`).

use serde_json::{json, Map, Value};

use crate::eval::{field, ResourceSchema};
use crate::filter::{parse_path, AttrPath};
use crate::schema::{Attribute, Returned};
use crate::{Error, ScimType};

/// The ListResponse message schema.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The Error message schema.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Which page of a list to return, normalised as RFC 7644 §3.4.2.4 asks: a `startIndex` below 1
/// is 1; a negative `count` is 0; a `count` above the server's maximum is that maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based.
    pub start_index: u64,
    pub count: u64,
}

impl Paging {
    pub fn new(
        start_index: Option<i64>,
        count: Option<i64>,
        default_count: u64,
        max_count: u64,
    ) -> Paging {
        Paging {
            start_index: start_index.map_or(1, |s| u64::try_from(s.max(1)).unwrap_or(1)),
            count: count
                .map_or(default_count, |c| u64::try_from(c.max(0)).unwrap_or(0))
                .min(max_count),
        }
    }

    /// The 0-based offset.
    pub fn offset(&self) -> u64 {
        self.start_index - 1
    }
}

/// `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// Reads `sortOrder` (default ascending).
pub fn sort_order(value: Option<&str>) -> Result<SortOrder, Error> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") => Ok(SortOrder::Ascending),
        Some("descending") => Ok(SortOrder::Descending),
        Some(other) => Err(Error::new(
            ScimType::InvalidValue,
            format!("sortOrder must be ascending or descending, not {other:?}"),
        )),
    }
}

/// A ListResponse body.
pub fn list_response(resources: Vec<Value>, total_results: u64, paging: Paging) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total_results,
        "startIndex": paging.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// An Error body for `status`; `scim_type` only where RFC 7644 defines one (400s).
pub fn error_body(status: u16, scim_type: Option<ScimType>, detail: &str) -> Value {
    let mut body = json!({ "schemas": [ERROR], "status": status.to_string(), "detail": detail });
    if let Some(t) = scim_type {
        body["scimType"] = Value::String(t.as_str().to_string());
    }
    body
}

/// The SearchRequest message schema (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A query parameter by name (SCIM's parameter names are matched case-insensitively).
pub fn query_param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A list request (RFC 7644 §3.4.2, §3.4.3), from query parameters or a SearchRequest body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

fn integer(name: &str, text: &str) -> Result<i64, Error> {
    text.trim().parse::<i64>().or_else(|_| {
        // Past i64: the page rules clamp it anyway.
        if !text.trim().is_empty()
            && text
                .trim()
                .trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            Ok(if text.trim().starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            })
        } else {
            Err(Error::new(
                ScimType::InvalidValue,
                format!("{name} must be an integer, not {text:?}"),
            ))
        }
    })
}

impl ListRequest {
    /// From `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`, `attributes` and
    /// `excludedAttributes` query parameters.
    pub fn from_query(query: &[(String, String)]) -> Result<ListRequest, Error> {
        Ok(ListRequest {
            filter: query_param(query, "filter").map(str::to_string),
            sort_by: query_param(query, "sortBy").map(str::to_string),
            sort_order: query_param(query, "sortOrder").map(str::to_string),
            start_index: query_param(query, "startIndex")
                .map(|v| integer("startIndex", v))
                .transpose()?,
            count: query_param(query, "count")
                .map(|v| integer("count", v))
                .transpose()?,
            attributes: query_param(query, "attributes").map(str::to_string),
            excluded: query_param(query, "excludedAttributes").map(str::to_string),
        })
    }

    /// From a SearchRequest body (`attributes` may be an array of names).
    pub fn from_search(body: &Value) -> Result<ListRequest, Error> {
        if !body.is_object() {
            return Err(Error::new(
                ScimType::InvalidSyntax,
                "a search body must be a SearchRequest object",
            ));
        }
        let schemas_ok = field(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(SEARCH_REQUEST)));
        if !schemas_ok {
            return Err(Error::new(
                ScimType::InvalidSyntax,
                format!("a search body must list the schema {SEARCH_REQUEST}"),
            ));
        }
        let text = |name: &str| -> Result<Option<String>, Error> {
            match field(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                // attributes may be an array of names.
                Some(Value::Array(items)) => Ok(Some(
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            Error::new(ScimType::InvalidValue, format!("{name} must list strings"))
                        })?
                        .join(","),
                )),
                Some(_) => Err(Error::new(
                    ScimType::InvalidValue,
                    format!("{name} has the wrong type"),
                )),
            }
        };
        let number = |name: &str| -> Result<Option<i64>, Error> {
            match field(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(Some(n.as_i64().unwrap_or(
                    if n.as_f64().unwrap_or(0.0) < 0.0 {
                        i64::MIN
                    } else {
                        i64::MAX
                    },
                ))),
                Some(Value::String(s)) => integer(name, s).map(Some),
                Some(_) => Err(Error::new(
                    ScimType::InvalidValue,
                    format!("{name} must be an integer"),
                )),
            }
        };
        Ok(ListRequest {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: number("startIndex")?,
            count: number("count")?,
            attributes: text("attributes")?,
            excluded: text("excludedAttributes")?,
        })
    }
}

/// Parses an `attributes` / `excludedAttributes` list: comma-separated attribute paths.
pub fn parse_attribute_list(text: &str) -> Result<Vec<AttrPath>, Error> {
    const MAX_TEXT: usize = 4096;
    const MAX_ITEMS: usize = 64;
    if text.len() > MAX_TEXT || text.split(',').count() > MAX_ITEMS {
        return Err(Error::new(
            ScimType::InvalidValue,
            format!("an attribute list holds at most {MAX_ITEMS} names in {MAX_TEXT} bytes"),
        ));
    }
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let path =
                parse_path(item).map_err(|e| Error::new(ScimType::InvalidValue, e.message))?;
            if path.filter.is_some() {
                return Err(Error::new(
                    ScimType::InvalidValue,
                    format!("{item:?}: attribute lists take paths, not filters"),
                ));
            }
            Ok(path.attr)
        })
        .collect()
}

/// Which attributes a response carries (RFC 7644 §3.9 with RFC 7643 `returned`): `never` ones
/// never, `always` ones always; with `attributes`, only those (a sub-attribute brings its
/// parent with that sub-attribute alone); with `excludedAttributes`, all but those.
pub fn project(
    resource: &Value,
    schema: &ResourceSchema<'_>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Value {
    let Some(object) = resource.as_object() else {
        return resource.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        if key == "schemas" {
            out.insert(key.clone(), value.clone());
            continue;
        }
        if let Some(ext) = schema
            .extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(key))
        {
            if let Some(inner) = value.as_object() {
                let kept = project_members(
                    inner,
                    |name| ext.attribute(name),
                    Some(ext.id),
                    schema,
                    attributes,
                    excluded,
                );
                if !kept.is_empty() {
                    out.insert(key.clone(), Value::Object(kept));
                }
            }
            continue;
        }
        let kept = project_members(
            &Map::from_iter([(key.clone(), value.clone())]),
            |name| schema.core.attribute(name),
            None,
            schema,
            attributes,
            excluded,
        );
        out.extend(kept);
    }
    Value::Object(out)
}

fn project_members<'s>(
    members: &Map<String, Value>,
    lookup: impl Fn(&str) -> Option<&'s Attribute<'s>>,
    urn: Option<&str>,
    schema: &ResourceSchema<'_>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Map<String, Value> {
    let names = |p: &AttrPath, def: &Attribute| {
        let same_schema = match (&p.urn, urn) {
            (None, None) => true,
            (Some(u), None) => u.eq_ignore_ascii_case(schema.core.id),
            (Some(u), Some(ours)) => u.eq_ignore_ascii_case(ours),
            (None, Some(_)) => false,
        };
        same_schema && p.name.eq_ignore_ascii_case(def.name)
    };
    let mut out = Map::new();
    for (key, value) in members {
        let Some(def) = lookup(key) else { continue };
        match def.returned {
            Returned::Never => continue,
            Returned::Always => {
                out.insert(key.clone(), value.clone());
                continue;
            }
            Returned::Default | Returned::Request => {}
        }
        if !attributes.is_empty() {
            let requested: Vec<&AttrPath> = attributes.iter().filter(|p| names(p, def)).collect();
            if requested.is_empty() {
                continue;
            }
            if requested.iter().any(|p| p.sub.is_none()) {
                out.insert(key.clone(), value.clone());
            } else {
                let subs: Vec<&str> = requested.iter().filter_map(|p| p.sub.as_deref()).collect();
                out.insert(key.clone(), keep_subs(value, &subs));
            }
            continue;
        }
        if def.returned == Returned::Request {
            continue;
        }
        let excluded_here: Vec<&AttrPath> = excluded.iter().filter(|p| names(p, def)).collect();
        if excluded_here.iter().any(|p| p.sub.is_none()) {
            continue;
        }
        let drop: Vec<&str> = excluded_here
            .iter()
            .filter_map(|p| p.sub.as_deref())
            .collect();
        out.insert(
            key.clone(),
            if drop.is_empty() {
                value.clone()
            } else {
                drop_subs(value, &drop)
            },
        );
    }
    out
}

fn filter_subs(value: &Value, keep: impl Fn(&str) -> bool + Copy) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| filter_subs(i, keep)).collect()),
        other => other.clone(),
    }
}

fn keep_subs(value: &Value, subs: &[&str]) -> Value {
    filter_subs(value, |k| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
}

fn drop_subs(value: &Value, subs: &[&str]) -> Value {
    filter_subs(value, |k| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Schema, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

    const EXT: &[&Schema<'static>] = &[&ENTERPRISE_USER_SCHEMA];

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA.id, ENTERPRISE_USER_SCHEMA.id],
            "id": "u1",
            "userName": "bjensen",
            "password": "t1meMa$heen",
            "name": { "givenName": "Barbara", "familyName": "Jensen" },
            "emails": [{ "value": "b@example.com", "type": "work" }],
            ENTERPRISE_USER_SCHEMA.id: { "department": "Tour", "costCenter": "4130" }
        })
    }

    fn run(attributes: &str, excluded: &str) -> Value {
        let schema = ResourceSchema {
            core: &USER_SCHEMA,
            extensions: EXT,
        };
        project(
            &user(),
            &schema,
            &parse_attribute_list(attributes).unwrap(),
            &parse_attribute_list(excluded).unwrap(),
        )
    }

    #[test]
    fn never_returned_and_always_returned() {
        let all = run("", "");
        assert!(all.get("password").is_none());
        assert_eq!(all["userName"], "bjensen");
        let only = run("userName", "");
        assert_eq!(only["id"], "u1", "id is always returned");
        assert!(only.get("name").is_none() && only.get("emails").is_none());
        assert!(only.get(ENTERPRISE_USER_SCHEMA.id).is_none());
    }

    #[test]
    fn sub_attributes_and_extensions() {
        let p = run("name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "");
        assert_eq!(p["name"], json!({ "givenName": "Barbara" }));
        assert_eq!(p["emails"], json!([{ "value": "b@example.com" }]));
        assert_eq!(
            p[ENTERPRISE_USER_SCHEMA.id],
            json!({ "department": "Tour" })
        );
        let e = run("", "emails,name.familyName,id");
        assert!(e.get("emails").is_none());
        assert_eq!(e["name"], json!({ "givenName": "Barbara" }));
        assert_eq!(
            e["id"], "u1",
            "always-returned attributes cannot be excluded"
        );
    }

    #[test]
    fn list_requests_from_queries_and_search_bodies() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let r = ListRequest::from_query(&q(&[
            ("FILTER", "userName eq \"a\""),
            ("startIndex", "-5"),
            ("count", "99999999999999999999999"),
        ]))
        .unwrap();
        assert_eq!(r.filter.as_deref(), Some("userName eq \"a\""));
        assert_eq!((r.start_index, r.count), (Some(-5), Some(i64::MAX)));
        let e = ListRequest::from_query(&q(&[("count", "ten")])).unwrap_err();
        assert_eq!(e.scim_type, ScimType::InvalidValue);
        let r = ListRequest::from_search(&json!({
            "schemas": [SEARCH_REQUEST], "attributes": ["userName", "emails"], "count": 5
        }))
        .unwrap();
        assert_eq!(r.attributes.as_deref(), Some("userName,emails"));
        assert_eq!(r.count, Some(5));
        let e = ListRequest::from_search(&json!({"filter": "x"})).unwrap_err();
        assert_eq!(e.scim_type, ScimType::InvalidSyntax);
        let e = ListRequest::from_search(&json!({"schemas": [SEARCH_REQUEST], "count": true}))
            .unwrap_err();
        assert_eq!(e.scim_type, ScimType::InvalidValue);
    }

    #[test]
    fn paging_is_normalised() {
        assert_eq!(
            Paging::new(Some(-3), Some(-1), 100, 200),
            Paging {
                start_index: 1,
                count: 0
            }
        );
        assert_eq!(Paging::new(None, Some(1_000_000), 100, 200).count, 200);
        assert_eq!(Paging::new(Some(11), None, 100, 200).offset(), 10);
        assert!(sort_order(Some("Descending")).is_ok());
        assert!(sort_order(Some("up")).is_err());
        let body = list_response(vec![json!({})], 7, Paging::new(Some(3), Some(1), 100, 200));
        assert_eq!(
            (
                body["totalResults"].as_u64(),
                body["startIndex"].as_u64(),
                body["itemsPerPage"].as_u64()
            ),
            (Some(7), Some(3), Some(1))
        );
        let err = error_body(400, Some(ScimType::InvalidFilter), "bad");
        assert_eq!(
            (err["status"].as_str(), err["scimType"].as_str()),
            (Some("400"), Some("invalidFilter"))
        );
    }
}
