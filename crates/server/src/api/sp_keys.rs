//! A connection's SP keys through the admin API: listed with their certificates, and rotated
//! a step at a time (add the next key, which the SP metadata then publishes beside the current
//! one; once the IdP has it, make it current).

use axum::extract::{Path, State};
use axum::Json;
use lanyard_saml::certs::Certificate;
use lanyard_store::SpKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::timestamp;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use crate::permissions::{SSO_EDIT, SSO_VIEW};
use crate::sp_keys::{draft, keys_of, ENCRYPTION, SIGNING};
use crate::state::AppState;

/// One of a connection's SP keys (the private half never leaves the server).
#[derive(Serialize, ToSchema)]
pub struct SpKeyView {
    pub id: String,
    /// `signing` or `encryption`.
    pub usage: String,
    /// `current`; `next` (published, not yet in use for signing); `previous` (still decrypts).
    pub state: String,
    /// The certificate, base64 DER.
    pub certificate: String,
    pub fingerprint_sha256: String,
    pub not_after: String,
    pub created_at: String,
}

fn view(key: SpKey) -> SpKeyView {
    let cert = Certificate::parse(key.certificate.as_bytes()).ok();
    SpKeyView {
        fingerprint_sha256: cert
            .as_ref()
            .map(|c| c.fingerprint_sha256.clone())
            .unwrap_or_default(),
        not_after: cert
            .map(|c| timestamp(c.not_after.saturating_mul(1000)))
            .unwrap_or_default(),
        id: key.id,
        usage: key.usage,
        state: key.state,
        certificate: key.certificate,
        created_at: timestamp(key.created_at),
    }
}

/// List a connection's SP keys, made on first use (sso.provider.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/sso-connections/{id}/sp-keys", tag = "sso connections",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = super::Page<SpKeyView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<super::Page<SpKeyView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "sp_key.list", SSO_VIEW).await?;
    let connection = state.store.get_sso_connection(&org.id, &id).await?;
    keys_of(&state, &connection).await.map_err(unavailable)?;
    let keys = state.store.sp_keys(&connection.id).await?;
    Ok(Json(super::Page::whole(
        keys.into_iter().map(view).collect(),
    )))
}

fn unavailable(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{e:#}"), "SP keys");
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the connection's SP keys could not be read or made; try again",
    )
}

/// Which key to rotate, and which step.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSpKey {
    /// `signing` or `encryption`.
    pub usage: String,
    /// `add_next`: make a next key, which the SP metadata publishes beside the current one
    /// (give the IdP the new metadata or certificate). `promote`: make the next key current;
    /// the current one becomes `previous` and still decrypts what was sent to it.
    pub step: String,
}

/// One rotation step (sso.provider.edit); 409 when the step does not fit (a next key exists
/// already, or there is none to promote).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/sso-connections/{id}/sp-keys/rotate", tag = "sso connections", request_body = RotateSpKey,
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = super::Page<SpKeyView>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rotate(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
    Body(input): Body<RotateSpKey>,
) -> ApiResult<Json<super::Page<SpKeyView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "sp_key.rotate", SSO_EDIT).await?;
    if input.usage != SIGNING && input.usage != ENCRYPTION {
        return Err(ApiError::invalid(format!(
            "usage {:?} is not one of signing, encryption",
            input.usage
        )));
    }
    let connection = state.store.get_sso_connection(&org.id, &id).await?;
    keys_of(&state, &connection).await.map_err(unavailable)?;
    let next = match input.step.as_str() {
        "add_next" => Some(
            draft(&state.secrets, &connection.id, &input.usage, "next")
                .await
                .map_err(unavailable)?,
        ),
        "promote" => None,
        other => {
            return Err(ApiError::invalid(format!(
                "step {other:?} is not one of add_next, promote"
            )))
        }
    };
    let mut audit = who.audit("sp_key.rotate");
    audit.detail = serde_json::json!({
        "connection": connection.id,
        "usage": input.usage,
        "step": input.step,
        "added": next.as_ref().map(|k| k.id.clone()),
    });
    let keys = state
        .store
        .rotate_sp_key(&org.id, &connection.id, &input.usage, next.as_ref(), &audit)
        .await?;
    Ok(Json(super::Page::whole(
        keys.into_iter().map(view).collect(),
    )))
}
