//! `/Bulk` (RFC 7644 §3.7): operations run in order, each through the same handler as its own
//! request would, so every rule (and every audit row and event) is the same. `bulkId:<id>`
//! references in paths and data resolve to resources created earlier in the request; a
//! reference to a later or unknown operation fails that operation.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lanyard_scim::bulk::{resolve, resolve_path, BulkRequest, BULK_RESPONSE};
use lanyard_scim::eval::field;
use lanyard_scim::ScimType;
use serde_json::{json, Value};

use super::credential::ScimCaller;
use super::error::{ScimError, ScimResult};
use super::resources::{self, json_body, scim_response, Kind, GROUPS, USERS};
use super::{ScimState, MAX_BULK_OPERATIONS};

fn syntax(message: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, message)
}

pub async fn bulk(
    State(state): State<ScimState>,
    caller: ScimCaller,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let body = json_body(&headers, &body)?;
    let BulkRequest {
        fail_on_errors,
        operations,
    } = lanyard_scim::bulk::parse(&body)?;
    if operations.len() > MAX_BULK_OPERATIONS {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} operations is more than the {MAX_BULK_OPERATIONS} a Bulk request may hold",
                operations.len()
            ),
        ));
    }
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results = Vec::new();
    let mut errors = 0u64;
    for (n, op) in operations.iter().enumerate() {
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        // Each operation beyond the first spends the credential's rate budget like a request.
        let limited = if n == 0 {
            None
        } else {
            state.limits.check(&caller.limit_key()).err()
        };
        let result = run_one(&state, &caller, op, &mut created, limited).await;
        if result["status"]
            .as_str()
            .and_then(|s| s.parse::<u16>().ok())
            .is_none_or(|s| s >= 400)
        {
            errors += 1;
        }
        results.push(result);
    }
    Ok(scim_response(
        StatusCode::OK,
        &json!({ "schemas": [BULK_RESPONSE], "Operations": results }),
    ))
}

/// One operation's entry of the BulkResponse.
async fn run_one(
    state: &ScimState,
    caller: &ScimCaller,
    op: &Value,
    created: &mut HashMap<String, String>,
    limited: Option<ScimError>,
) -> Value {
    let method = field(op, "method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let bulk_id = field(op, "bulkId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut entry = json!({ "method": method });
    if let Some(b) = &bulk_id {
        entry["bulkId"] = Value::String(b.clone());
    }
    let outcome = match limited {
        Some(e) => Err(e),
        None => dispatch(state, caller, op, &method, created).await,
    };
    let response = match outcome {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let status = response.status();
    entry["status"] = Value::String(status.as_u16().to_string());
    let headers = response.headers().clone();
    if let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) {
        entry["location"] = Value::String(location.to_string());
        if let (Some(b), true) = (&bulk_id, method == "POST" && status.is_success()) {
            if let Some(id) = location.rsplit('/').next() {
                created.insert(b.clone(), id.to_string());
            }
        }
    }
    if let Some(tag) = headers.get(header::ETAG).and_then(|v| v.to_str().ok()) {
        entry["version"] = Value::String(tag.to_string());
    }
    if !status.is_success() {
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        entry["response"] = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    }
    entry
}

async fn dispatch(
    state: &ScimState,
    caller: &ScimCaller,
    op: &Value,
    method: &str,
    created: &HashMap<String, String>,
) -> ScimResult<Response> {
    let raw = field(op, "path")
        .and_then(Value::as_str)
        .ok_or_else(|| syntax("each Bulk operation needs a path"))?;
    let path = resolve_path(raw, created)?;
    let path = path.as_str();
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let kind: Kind = match segments.next() {
        Some(e) if e.eq_ignore_ascii_case("Users") => USERS,
        Some(e) if e.eq_ignore_ascii_case("Groups") => GROUPS,
        _ => {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!("{path:?} is not /Users, /Groups or one of their resources"),
            ))
        }
    };
    let id = segments
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(super::SCIM_JSON),
    );
    if let Some(version) = field(op, "version").and_then(Value::as_str) {
        if let Ok(v) = HeaderValue::from_str(version) {
            headers.insert(header::IF_MATCH, v);
        }
    }
    let data = || -> ScimResult<Bytes> {
        let mut data = field(op, "data")
            .cloned()
            .ok_or_else(|| syntax(format!("a Bulk {method} needs data")))?;
        resolve(&mut data, created)?;
        Ok(Bytes::from(serde_json::to_vec(&data).unwrap_or_default()))
    };
    caller.allows(method, false)?;
    let s = State(state.clone());
    let c = caller.clone();
    let q = Query(Vec::new());
    match (method, id) {
        ("POST", None) => resources::create(kind, s, c, q, headers, data()?).await,
        ("PUT", Some(id)) => resources::replace(kind, s, c, Path(id), q, headers, data()?).await,
        ("PATCH", Some(id)) => resources::modify(kind, s, c, Path(id), q, headers, data()?).await,
        ("DELETE", Some(id)) => resources::remove(kind, s, c, Path(id), headers).await,
        _ => Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("a Bulk operation cannot {method} {path:?}"),
        )),
    }
}
