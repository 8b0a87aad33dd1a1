//! An organization's own SCIM extension schemas for users (custom attributes, such as Okta's
//! custom profile fields mapped through SCIM). Once defined, their attributes are accepted,
//! stored, filtered, sorted and patched like built-in ones, and appear in `/Schemas`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lanyard_scim::extension::{ExtensionDef, MAX_EXTENSIONS};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use crate::permissions::{EMPLOYEES_EDIT, EMPLOYEES_VIEW};
use crate::scim;
use crate::state::AppState;
use lanyard_store::StoreError;

async fn definitions(state: &AppState, org_id: &str) -> ApiResult<Vec<ExtensionDef>> {
    Ok(crate::extensions::load(&state.store, org_id).await?)
}

/// The organization's extension schemas (employees.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/scim-extensions", tag = "scim extensions",
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 200, body = super::Page<Object>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<super::Page<serde_json::Value>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "scim_extension.list", EMPLOYEES_VIEW)
        .await?;
    let defs = definitions(&state, &org.id).await?;
    Ok(Json(super::Page::whole(
        defs.iter().map(ExtensionDef::to_json).collect(),
    )))
}

/// One extension schema, by its URN (employees.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/scim-extensions/{urn}", tag = "scim extensions",
    params(("org" = String, Path, description = "Organization id or short name"),
        ("urn" = String, Path, description = "The schema URN")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path((org, urn)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "scim_extension.get", EMPLOYEES_VIEW)
        .await?;
    let defs = definitions(&state, &org.id).await?;
    let def = defs
        .iter()
        .find(|d| d.id.eq_ignore_ascii_case(&urn))
        .ok_or_else(|| ApiError::not_found(format!("no extension schema {urn:?}")))?;
    Ok(Json(def.to_json()))
}

/// Defines or redefines an extension schema (employees.edit): `{"id": "<urn>", "name": …,
/// "description": …, "attributes": [{"name", "type", "multiValued", "required", "caseExact",
/// "description", "claim"}]}`. The URN in the path and the body's `id` must agree. An existing
/// attribute keeps its type and plurality (values are stored under them); others may be added.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/scim-extensions/{urn}", tag = "scim extensions",
    request_body = Object,
    params(("org" = String, Path, description = "Organization id or short name"),
        ("urn" = String, Path, description = "The schema URN")),
    responses((status = 201, body = Object), (status = 200, body = Object),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    State(scim_caches): State<scim::Caches>,
    who: Principal,
    Path((org, urn)): Path<(String, String)>,
    Body(body): Body<serde_json::Value>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "scim_extension.put", EMPLOYEES_EDIT)
        .await?;
    let def = ExtensionDef::parse(&body).map_err(|e| ApiError::bad_request(e.message))?;
    if !def.id.eq_ignore_ascii_case(&urn) {
        return Err(ApiError::bad_request(format!(
            "the body's id {:?} is not the URN in the path {urn:?}",
            def.id
        )));
    }
    let created = state
        .store
        .put_scim_extension(
            &org.id,
            &def.id,
            &def.to_json().to_string(),
            MAX_EXTENSIONS,
            &|stored| {
                let others = crate::extensions::read_stored(&org.id, stored);
                def.fits_beside(&others)
                    .map_err(|e| StoreError::Conflict(e.message))
            },
            &who.audit("scim_extension.put"),
        )
        .await?;
    scim_caches.extensions.forget(&org.id);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(def.to_json())).into_response())
}

/// Deletes an extension schema (employees.edit). Users' values under it are kept but no longer
/// shown, filtered or accepted.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/scim-extensions/{urn}", tag = "scim extensions",
    params(("org" = String, Path, description = "Organization id or short name"),
        ("urn" = String, Path, description = "The schema URN")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    State(scim_caches): State<scim::Caches>,
    who: Principal,
    Path((org, urn)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "scim_extension.delete", EMPLOYEES_EDIT)
        .await?;
    state
        .store
        .delete_scim_extension(&org.id, &urn, &who.audit("scim_extension.delete"))
        .await?;
    scim_caches.extensions.forget(&org.id);
    Ok(StatusCode::NO_CONTENT)
}
