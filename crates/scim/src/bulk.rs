//! Bulk requests (RFC 7644 §3.7): reading the request and resolving `bulkId:` references. The
//! server runs the operations.

use std::collections::HashMap;

use serde_json::Value;

use crate::eval::field;
use crate::{Error, ScimType};

/// The BulkRequest message schema.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The BulkResponse message schema.
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// A BulkRequest's operations and `failOnErrors`.
#[derive(Debug)]
pub struct BulkRequest<'b> {
    pub fail_on_errors: Option<u64>,
    pub operations: &'b [Value],
}

/// Reads a BulkRequest body.
pub fn parse(body: &Value) -> Result<BulkRequest<'_>, Error> {
    let listed = field(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(BULK_REQUEST)));
    if !listed {
        return Err(Error::new(
            ScimType::InvalidSyntax,
            format!("a Bulk body must list the schema {BULK_REQUEST}"),
        ));
    }
    let operations = field(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::new(
                ScimType::InvalidSyntax,
                "a Bulk body needs an Operations array",
            )
        })?;
    let fail_on_errors = match field(body, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            Error::new(
                ScimType::InvalidValue,
                "failOnErrors must be a positive integer",
            )
        })?),
    };
    Ok(BulkRequest {
        fail_on_errors,
        operations,
    })
}

/// Replaces `bulkId:<id>` strings in `value` with the ids created for them earlier in the
/// request; a reference to anything else is an error for that operation.
pub fn resolve(value: &mut Value, created: &HashMap<String, String>) -> Result<(), Error> {
    match value {
        Value::String(s) => {
            if let Some(reference) = s.strip_prefix("bulkId:") {
                let id = created.get(reference).ok_or_else(|| {
                    Error::new(
                        ScimType::InvalidValue,
                        format!(
                            "bulkId {reference:?} does not name a resource created earlier in \
                             this request"
                        ),
                    )
                })?;
                *s = id.clone();
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| resolve(v, created)),
        Value::Object(map) => map.values_mut().try_for_each(|v| resolve(v, created)),
        _ => Ok(()),
    }
}

/// An operation's path with its `bulkId:` segments resolved (`/Users/bulkId:u1`).
pub fn resolve_path(path: &str, created: &HashMap<String, String>) -> Result<String, Error> {
    let mut segments = Vec::new();
    for segment in path.split('/') {
        let mut v = Value::String(segment.to_string());
        resolve(&mut v, created)?;
        segments.push(v.as_str().unwrap_or_default().to_string());
    }
    Ok(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_and_references() {
        let body = json!({"schemas": [BULK_REQUEST], "failOnErrors": 2, "Operations": [{}]});
        let req = parse(&body).unwrap();
        assert_eq!((req.fail_on_errors, req.operations.len()), (Some(2), 1));
        assert!(parse(&json!({"Operations": []})).is_err());
        assert!(
            parse(&json!({"schemas": [BULK_REQUEST], "failOnErrors": 0, "Operations": []}))
                .is_err()
        );
        let created = HashMap::from([("u1".to_string(), "abc".to_string())]);
        let mut data = json!({"members": [{"value": "bulkId:u1"}], "x": "bulkId"});
        resolve(&mut data, &created).unwrap();
        assert_eq!(data, json!({"members": [{"value": "abc"}], "x": "bulkId"}));
        assert_eq!(
            resolve_path("/Users/bulkId:u1", &created).unwrap(),
            "/Users/abc"
        );
        let e = resolve_path("/Users/bulkId:later", &created).unwrap_err();
        assert_eq!(e.scim_type, ScimType::InvalidValue);
    }
}
