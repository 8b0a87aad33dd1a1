//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`. They are
//! behind the same credential as the rest, since an organization's view may differ.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use lanyard_scim::messages::list_response;
use lanyard_scim::messages::Paging;
use lanyard_scim::schema::{Schema, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{json, Value};

use lanyard_scim::extension::ExtensionDef;

use super::credential::ScimCaller;
use super::error::{ScimError, ScimResult};
use super::extensions::for_org;
use super::resources::{scim_response, Kind, GROUPS, MAX_COUNT, USERS};
use super::{ScimState, MAX_BULK_OPERATIONS};

pub async fn service_provider_config(
    State(state): State<ScimState>,
    _caller: ScimCaller,
) -> Response {
    let base = state.app.public_url.scim_base();
    scim_response(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://github.com/lanyard-id/lanyard#scim",
            "patch": { "supported": true },
            "bulk": {
                "supported": true,
                "maxOperations": MAX_BULK_OPERATIONS,
                "maxPayloadSize": state.app.max_body_bytes,
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

fn resource_type(base: &str, kind: &Kind, own: &[ExtensionDef]) -> Value {
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
            .chain(own.iter().map(|d| json!({ "schema": d.id, "required": false })))
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

pub async fn resource_types(
    State(state): State<ScimState>,
    caller: ScimCaller,
) -> ScimResult<Response> {
    let base = state.app.public_url.scim_base();
    let own = for_org(&state, &caller.org_id, USERS).await?;
    let items = vec![
        resource_type(&base, &USERS, &own),
        resource_type(&base, &GROUPS, &[]),
    ];
    Ok(scim_response(StatusCode::OK, &everything(items)))
}

pub async fn one_resource_type(
    State(state): State<ScimState>,
    caller: ScimCaller,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    let own = for_org(&state, &caller.org_id, USERS).await?;
    let kind = [USERS, GROUPS]
        .into_iter()
        .find(|k| k.name.eq_ignore_ascii_case(&id))
        .ok_or_else(|| {
            ScimError::not_found(format!("no resource type {id:?}; there are User and Group"))
        })?;
    let own: &[ExtensionDef] = if kind.name == USERS.name { &own } else { &[] };
    Ok(scim_response(
        StatusCode::OK,
        &resource_type(&state.app.public_url.scim_base(), &kind, own),
    ))
}

const SCHEMAS: [&Schema<'static>; 3] = [&USER_SCHEMA, &GROUP_SCHEMA, &ENTERPRISE_USER_SCHEMA];

/// The built-in schemas and the organization's own, as `/Schemas` resources.
async fn all_schemas(state: &ScimState, caller: &ScimCaller) -> ScimResult<Vec<Value>> {
    let base = state.app.public_url.scim_base();
    let own = for_org(state, &caller.org_id, USERS).await?;
    let mut items: Vec<Value> = SCHEMAS.iter().map(|s| s.to_json(&base)).collect();
    for def in own.iter() {
        let attrs = def.attributes();
        let mut schema = def.schema(&attrs).to_json(&base);
        // Each attribute's description, as the admin wrote it.
        if let Some(list) = schema["attributes"].as_array_mut() {
            for (item, a) in list.iter_mut().zip(&def.attributes) {
                item["description"] = Value::String(a.description.clone());
            }
        }
        items.push(schema);
    }
    Ok(items)
}

pub async fn schemas(State(state): State<ScimState>, caller: ScimCaller) -> ScimResult<Response> {
    let items = all_schemas(&state, &caller).await?;
    Ok(scim_response(StatusCode::OK, &everything(items)))
}

pub async fn one_schema(
    State(state): State<ScimState>,
    caller: ScimCaller,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    let schema = all_schemas(&state, &caller)
        .await?
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&id))
        })
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")))?;
    Ok(scim_response(StatusCode::OK, &schema))
}
