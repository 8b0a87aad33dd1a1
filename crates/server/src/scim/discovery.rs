//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`. They are
//! behind the same credential as the rest, since an organization's view may differ.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use lanyard_scim::messages::list_response;
use lanyard_scim::messages::Paging;
use lanyard_scim::schema::{Schema, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{json, Value};

use super::credential::ScimCaller;
use super::error::{ScimError, ScimResult};
use super::resources::{scim_response, Kind, GROUPS, MAX_COUNT, USERS};
use super::MAX_BULK_OPERATIONS;
use crate::state::AppState;

fn base(state: &AppState) -> String {
    format!("{}/scim/v2", state.public_url)
}

pub async fn service_provider_config(
    State(state): State<AppState>,
    _caller: ScimCaller,
) -> Response {
    let base = base(&state);
    scim_response(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://github.com/lanyard-id/lanyard#scim",
            "patch": { "supported": true },
            "bulk": {
                "supported": true,
                "maxOperations": MAX_BULK_OPERATIONS,
                "maxPayloadSize": state.max_body_bytes,
            },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": true },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A SCIM token made in Lanyard, sent as Authorization: Bearer <token>",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{base}/ServiceProviderConfig"),
            },
        }),
    )
}

fn resource_type(base: &str, kind: &Kind) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.name,
        "name": kind.name,
        "endpoint": format!("/{}", kind.endpoint),
        "description": kind.schema.core.description,
        "schema": kind.schema.core.id,
        "schemaExtensions": kind
            .schema
            .extensions
            .iter()
            .map(|s| json!({ "schema": s.id, "required": false }))
            .collect::<Vec<_>>(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", kind.name),
        },
    })
}

fn everything(items: Vec<Value>) -> Value {
    let n = items.len() as u64;
    list_response(
        items,
        n,
        Paging {
            start_index: 1,
            count: n,
        },
    )
}

pub async fn resource_types(State(state): State<AppState>, _caller: ScimCaller) -> Response {
    let base = base(&state);
    let items = [USERS, GROUPS]
        .iter()
        .map(|k| resource_type(&base, k))
        .collect();
    scim_response(StatusCode::OK, &everything(items))
}

pub async fn one_resource_type(
    State(state): State<AppState>,
    _caller: ScimCaller,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    let kind = [USERS, GROUPS]
        .into_iter()
        .find(|k| k.name.eq_ignore_ascii_case(&id))
        .ok_or_else(|| {
            ScimError::not_found(format!("no resource type {id:?}; there are User and Group"))
        })?;
    Ok(scim_response(
        StatusCode::OK,
        &resource_type(&base(&state), &kind),
    ))
}

const SCHEMAS: [&Schema<'static>; 3] = [&USER_SCHEMA, &GROUP_SCHEMA, &ENTERPRISE_USER_SCHEMA];

pub async fn schemas(State(state): State<AppState>, _caller: ScimCaller) -> Response {
    let base = base(&state);
    let items = SCHEMAS.iter().map(|s| s.to_json(&base)).collect();
    scim_response(StatusCode::OK, &everything(items))
}

pub async fn one_schema(
    State(state): State<AppState>,
    _caller: ScimCaller,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    let schema = SCHEMAS
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")))?;
    Ok(scim_response(
        StatusCode::OK,
        &schema.to_json(&base(&state)),
    ))
}
