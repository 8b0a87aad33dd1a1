//! SCIM tokens (the "SCIM Tokens" page of the admin guides): organization-scoped bearer tokens
//! for provisioning connectors. The token is shown once, with the SCIM endpoint to paste next
//! to it; only its hash is kept.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use lanyard_store::ScimToken;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::timestamp;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use crate::permissions::{SCIM, TOKENS_MANAGE};
use crate::secrets::{random_token, SCIM_TOKEN_PREFIX};
use crate::state::AppState;
use crate::validate;

/// A SCIM token, without its secret.
#[derive(Serialize, ToSchema)]
pub struct ScimTokenView {
    pub id: String,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<ScimToken> for ScimTokenView {
    fn from(t: ScimToken) -> ScimTokenView {
        ScimTokenView {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: timestamp(t.created_at),
            expires_at: t.expires_at.map(timestamp),
            last_used_at: t.last_used_at.map(timestamp),
            revoked_at: t.revoked_at.map(timestamp),
        }
    }
}

/// A new SCIM token: the only time the token is shown.
#[derive(Serialize, ToSchema)]
pub struct NewScimTokenView {
    #[serde(flatten)]
    pub details: ScimTokenView,
    /// Paste into the IdP's provisioning settings (HTTP Header / Bearer); it cannot be shown again.
    pub token: String,
    /// The SCIM base URL to configure next to it.
    pub scim_endpoint: String,
}

/// Creates a SCIM token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// What the token is for, such as "Okta provisioning".
    pub name: String,
    /// An RFC 3339 UTC time in the future; the token stops working then. Never, when omitted.
    pub expires_at: Option<String>,
}

fn parse_expiry(value: &str) -> ApiResult<i64> {
    use time::format_description::well_known::Rfc3339;
    let bad = || {
        ApiError::bad_request(format!(
            "expires_at {value:?} must be an RFC 3339 UTC time such as 2027-01-31T00:00:00Z"
        ))
    };
    let t = time::OffsetDateTime::parse(value, &Rfc3339).map_err(|_| bad())?;
    if t.offset() != time::UtcOffset::UTC {
        return Err(bad());
    }
    let ms = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())?;
    if ms <= lanyard_store::now_ms() {
        return Err(ApiError::bad_request(format!(
            "expires_at {value:?} is in the past; give a future time"
        )));
    }
    Ok(ms)
}

/// List the organization's SCIM tokens (tokens.manage).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/scim-tokens", tag = "scim tokens",
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 200, body = super::Page<ScimTokenView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<super::Page<ScimTokenView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "scim_token.list", TOKENS_MANAGE)
        .await?;
    Ok(Json(super::Page::whole(
        state
            .store
            .list_scim_tokens(&org.id)
            .await?
            .into_iter()
            .map(ScimTokenView::from)
            .collect(),
    )))
}

/// Create a SCIM token; the token is in this response only (tokens.manage, scim and every
/// other permission: a SCIM token acts on everyone).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/scim-tokens", tag = "scim tokens", request_body = CreateScimToken,
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 201, body = NewScimTokenView), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Body(input): Body<CreateScimToken>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "scim_token.create", TOKENS_MANAGE)
        .await?;
    // A SCIM token can do all of SCIM to everyone, admins included: only someone holding
    // `scim` and every permission an admin could hold may make one.
    who.require(&state, &org, "scim_token.create", SCIM).await?;
    let everything = crate::permissions::ALL
        .iter()
        .map(|p| p.to_string())
        .collect();
    who.require_all(&state, &org, "scim_token.create", &everything)
        .await?;
    validate::label("name", &input.name, 100)?;
    let expires_at = input.expires_at.as_deref().map(parse_expiry).transpose()?;
    let secret = random_token(SCIM_TOKEN_PREFIX, 32);
    let draft = ScimToken {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org.id.clone(),
        name: input.name,
        prefix: secret.chars().take(SCIM_TOKEN_PREFIX.len() + 6).collect(),
        created_at: 0,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    let mut audit = who.audit("scim_token.create");
    audit.detail = serde_json::json!({ "name": draft.name, "expires_at": input.expires_at });
    let token = state
        .store
        .create_scim_token(&org.id, &draft, &state.secrets.hash_secret(&secret), &audit)
        .await?;
    let location = format!("/api/v1/orgs/{}/scim-tokens/{}", org.id, token.id);
    let body = NewScimTokenView {
        details: token.into(),
        token: secret,
        scim_endpoint: state.public_url.scim_base(),
    };
    Ok(super::created_with_secret(&location, body))
}

/// Revoke a SCIM token: it stops working on the next request (tokens.manage).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/scim-tokens/{id}", tag = "scim tokens",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "SCIM token id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "scim_token.revoke", TOKENS_MANAGE)
        .await?;
    let mut audit = who.audit("scim_token.revoke");
    audit.target = Some(id.clone());
    state.store.revoke_scim_token(&org.id, &id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
