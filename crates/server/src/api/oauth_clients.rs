//! OAuth/OIDC clients of an organization: the product's apps that send users to
//! `/auth/authorize`. A confidential client's secret is shown once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use lanyard_store::OAuthClient;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::timestamp;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use crate::permissions::APPS_MANAGE;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::validate;

/// An OAuth client, without its secret.
#[derive(Serialize, ToSchema)]
pub struct OAuthClientView {
    /// The client_id.
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Where a sign-in started at the IdP sends the browser, for the app to begin its own.
    pub initiate_login_uri: Option<String>,
    /// Confidential clients authenticate with a secret; public ones use PKCE alone.
    pub confidential: bool,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<OAuthClient> for OAuthClientView {
    fn from(c: OAuthClient) -> Self {
        OAuthClientView {
            id: c.id,
            name: c.name,
            redirect_uris: c.redirect_uris,
            initiate_login_uri: c.initiate_login_uri,
            confidential: c.confidential,
            created_at: timestamp(c.created_at),
            revoked_at: c.revoked_at.map(timestamp),
        }
    }
}

/// A new client: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct NewOAuthClientView {
    #[serde(flatten)]
    pub details: OAuthClientView,
    pub client_id: String,
    /// Absent for a public client.
    pub client_secret: Option<String>,
    /// The OpenID Connect discovery document to give the app.
    pub issuer: String,
}

/// Registers a client.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOAuthClient {
    pub name: String,
    /// 1–10 exact redirect URIs (https, or http on localhost).
    pub redirect_uris: Vec<String>,
    /// A public client (a single-page or native app) has no secret and must use PKCE.
    pub public: Option<bool>,
    /// The app's login-initiation URL (OIDC Core §4): a sign-in started at an IdP's app tile
    /// sends the browser here with `iss`. The organization's oldest client with one is its
    /// default app.
    pub initiate_login_uri: Option<String>,
}

/// List the organization's OAuth clients (apps.manage).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/oauth-clients", tag = "oauth clients",
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 200, body = Vec<OAuthClientView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<OAuthClientView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "oauth_client.list", APPS_MANAGE)
        .await?;
    let list = state.store.list_oauth_clients(&org.id).await?;
    Ok(Json(list.into_iter().map(OAuthClientView::from).collect()))
}

/// Register an OAuth client; a confidential client's secret is in this response only
/// (apps.manage).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/oauth-clients", tag = "oauth clients", request_body = CreateOAuthClient,
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 201, body = NewOAuthClientView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Body(input): Body<CreateOAuthClient>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "oauth_client.create", APPS_MANAGE)
        .await?;
    validate::label("name", &input.name, 100)?;
    if !(1..=10).contains(&input.redirect_uris.len()) {
        return Err(ApiError::invalid("redirect_uris must hold 1 to 10 URIs"));
    }
    for (i, uri) in input.redirect_uris.iter().enumerate() {
        validate::browser_url(&format!("redirect_uris[{i}]"), uri)?;
    }
    if let Some(uri) = &input.initiate_login_uri {
        validate::browser_url("initiate_login_uri", uri)?;
    }
    let public = input.public.unwrap_or(false);
    let secret = (!public).then(|| random_token("lycs_", 32));
    let draft = OAuthClient {
        id: format!("lyc-{}", uuid::Uuid::new_v4().simple()),
        org_id: org.id.clone(),
        name: input.name,
        redirect_uris: input.redirect_uris,
        initiate_login_uri: input.initiate_login_uri,
        confidential: !public,
        created_at: 0,
        revoked_at: None,
    };
    let mut audit = who.audit("oauth_client.create");
    audit.detail = serde_json::json!({ "name": draft.name, "redirect_uris": draft.redirect_uris, "public": public });
    let hash = secret.as_deref().map(|s| state.secrets.hash_secret(s));
    let client = state
        .store
        .create_oauth_client(&draft, hash.as_deref(), &audit)
        .await?;
    let location = format!("/api/v1/orgs/{}/oauth-clients/{}", org.id, client.id);
    let body = NewOAuthClientView {
        client_id: client.id.clone(),
        details: client.into(),
        client_secret: secret,
        issuer: state.public_url.issuer().to_string(),
    };
    Ok(super::created_with_secret(&location, body))
}

/// Revoke a client: its sign-ins, codes and tokens end at once (apps.manage).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/oauth-clients/{id}", tag = "oauth clients",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "client_id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "oauth_client.revoke", APPS_MANAGE)
        .await?;
    let audit = who.audit("oauth_client.revoke");
    state
        .store
        .revoke_oauth_client(&org.id, &id, &audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
