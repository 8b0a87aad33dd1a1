//! OAuth/OIDC clients of an organization, with the fields of a developer portal: the
//! product's apps that send users to `/auth/authorize`, and integrations (provisioning
//! connectors such as Okta's) that act for a user who consents, or for themselves with client
//! credentials. A secret is shown once; rotating it keeps the previous one valid for
//! [`SECRET_GRACE_MS`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use lanyard_store::OAuthClient;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{timestamp, Page};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, OptionalBody};
use crate::oauth_scopes;
use crate::permissions::APPS_MANAGE;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::validate;

/// How long a rotated-out secret keeps working unless the rotation says otherwise: a day for
/// the connector's configuration to take the new one.
pub const SECRET_GRACE_MS: i64 = 24 * 60 * 60_000;

/// An OAuth client, without its secret.
#[derive(Serialize, ToSchema)]
pub struct OAuthClientView {
    /// The client_id.
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub description: String,
    /// Technical contacts' e-mail addresses.
    pub contacts: Vec<String>,
    /// `app` or `integration`.
    pub kind: String,
    /// `confidential`, `public` or `backend`.
    #[serde(rename = "type")]
    pub client_type: String,
    pub token_endpoint_auth_method: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub fedramp: bool,
    /// Where a sign-in started at the IdP sends the browser, for the app to begin its own.
    pub initiate_login_uri: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<OAuthClient> for OAuthClientView {
    fn from(c: OAuthClient) -> Self {
        OAuthClientView {
            client_id: c.id.clone(),
            id: c.id,
            name: c.name,
            description: c.description,
            contacts: c.contacts,
            kind: c.kind,
            client_type: c.client_type,
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            redirect_uris: c.redirect_uris,
            scopes: c.scopes,
            fedramp: c.fedramp,
            initiate_login_uri: c.initiate_login_uri,
            created_at: timestamp(c.created_at),
            revoked_at: c.revoked_at.map(timestamp),
        }
    }
}

/// A new client, or a new secret: the only time the secret is shown.
#[derive(Serialize, ToSchema)]
pub struct NewOAuthClientView {
    #[serde(flatten)]
    pub details: OAuthClientView,
    /// Absent for a public client.
    pub client_secret: Option<String>,
    /// After a rotation: until when the previous secret still works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<String>,
    /// The OpenID Connect issuer (its discovery document names every endpoint).
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
}

/// Registers a client.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOAuthClient {
    pub name: String,
    pub description: Option<String>,
    /// Technical contacts' e-mail addresses (up to 10).
    pub contacts: Option<Vec<String>>,
    /// `app` (default; the product signs users in) or `integration` (a provisioning connector:
    /// users are asked to consent).
    pub kind: Option<String>,
    /// `confidential` (default), `public` (no secret, PKCE) or `backend` (client credentials
    /// only: it cannot sign users in).
    #[serde(rename = "type")]
    pub client_type: Option<String>,
    /// `client_secret_basic` (default for confidential and backend), `client_secret_post`, or
    /// `none` (public clients).
    pub token_endpoint_auth_method: Option<String>,
    /// 1–10 exact redirect URIs (https, or http on localhost); none for a backend client.
    pub redirect_uris: Option<Vec<String>>,
    /// What the client may ask for (default `openid profile email`): `openid`, `profile`,
    /// `email`, and for client credentials the permissions `scim`, `employees.view`,
    /// `employees.create`, `employees.edit` (which the caller must hold).
    pub scopes: Option<Vec<String>>,
    /// Registered for a FedRAMP deployment (recorded and shown; the deployment itself decides
    /// where it runs).
    pub fedramp: Option<bool>,
    /// The app's login-initiation URL (OIDC Core §4): a sign-in started at an IdP's app tile
    /// sends the browser here with `iss`. The organization's oldest app with one is its
    /// default app.
    pub initiate_login_uri: Option<String>,
}

fn one_of(field: &str, value: Option<String>, allowed: &[&str]) -> ApiResult<String> {
    let value = value.unwrap_or_else(|| allowed[0].to_string());
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(ApiError::invalid(format!(
            "{field} must be one of {}",
            allowed.join(", ")
        )))
    }
}

/// The client `input` describes, checked field by field (its id and organization left empty).
fn draft(input: CreateOAuthClient) -> ApiResult<OAuthClient> {
    validate::label("name", &input.name, 100)?;
    let description = input.description.unwrap_or_default();
    validate::text("description", &description, 1000)?;
    let contacts = input.contacts.unwrap_or_default();
    if contacts.len() > 10 {
        return Err(ApiError::invalid("contacts holds at most 10 addresses"));
    }
    for contact in &contacts {
        validate::email(contact)?;
    }
    let kind = one_of("kind", input.kind, &["app", "integration"])?;
    let client_type = one_of(
        "type",
        input.client_type,
        &["confidential", "public", "backend"],
    )?;
    let default_method = if client_type == "public" {
        "none"
    } else {
        "client_secret_basic"
    };
    let method = input
        .token_endpoint_auth_method
        .unwrap_or_else(|| default_method.to_string());
    match (client_type.as_str(), method.as_str()) {
        ("public", "none") => {}
        ("public", _) => {
            return Err(ApiError::invalid(
                "a public client has no secret: its token_endpoint_auth_method is none",
            ))
        }
        (_, "client_secret_basic" | "client_secret_post") => {}
        _ => {
            return Err(ApiError::invalid(
                "token_endpoint_auth_method must be client_secret_basic or client_secret_post \
                 for a client with a secret",
            ))
        }
    }
    let redirect_uris = input.redirect_uris.unwrap_or_default();
    if client_type == "backend" {
        if !redirect_uris.is_empty() {
            return Err(ApiError::invalid(
                "a backend client uses client credentials only and has no redirect_uris; \
                 register a confidential or public client to sign users in",
            ));
        }
    } else if !(1..=10).contains(&redirect_uris.len()) {
        return Err(ApiError::invalid("redirect_uris must hold 1 to 10 URIs"));
    }
    for (i, uri) in redirect_uris.iter().enumerate() {
        validate::browser_url(&format!("redirect_uris[{i}]"), uri)?;
    }
    let scopes = match input.scopes {
        Some(scopes) => scopes,
        None => oauth_scopes::DEFAULT
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    oauth_scopes::check_registered(&scopes).map_err(ApiError::invalid)?;
    if let Some(uri) = &input.initiate_login_uri {
        if kind != "app" || client_type == "backend" {
            return Err(ApiError::invalid(
                "initiate_login_uri is for apps that sign users in: neither an integration nor \
                 a backend client is where users land",
            ));
        }
        validate::browser_url("initiate_login_uri", uri)?;
    }
    Ok(OAuthClient {
        id: String::new(),
        org_id: String::new(),
        name: input.name,
        description,
        contacts,
        kind,
        client_type,
        token_endpoint_auth_method: method,
        scopes,
        fedramp: input.fedramp.unwrap_or(false),
        redirect_uris,
        initiate_login_uri: input.initiate_login_uri,
        created_at: 0,
        revoked_at: None,
        service_user_id: None,
    })
}

fn with_secret(
    state: &AppState,
    client: OAuthClient,
    secret: Option<String>,
) -> NewOAuthClientView {
    NewOAuthClientView {
        details: client.into(),
        client_secret: secret,
        previous_secret_valid_until: None,
        issuer: state.public_url.issuer().to_string(),
        authorization_endpoint: state.public_url.join("/auth/authorize"),
        token_endpoint: state.public_url.join("/auth/token"),
    }
}

/// List the organization's OAuth clients (apps.manage).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/oauth-clients", tag = "oauth clients",
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 200, body = Page<OAuthClientView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<Page<OAuthClientView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "oauth_client.list", APPS_MANAGE)
        .await?;
    let list = state.store.list_oauth_clients(&org.id).await?;
    Ok(Json(Page::whole(
        list.into_iter().map(Into::into).collect(),
    )))
}

/// One OAuth client (apps.manage).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/oauth-clients/{id}", tag = "oauth clients",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "client_id")),
    responses((status = 200, body = OAuthClientView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<OAuthClientView>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "oauth_client.get", APPS_MANAGE)
        .await?;
    let client = state.store.get_oauth_client(&org.id, &id).await?;
    Ok(Json(client.into()))
}

/// Register an OAuth client; a confidential or backend client's secret is in this response
/// only (apps.manage, and every permission its scopes name).
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
    let mut draft = draft(input)?;
    let granted = oauth_scopes::permissions(&draft.scopes);
    who.require_all(&state, &org, "oauth_client.create", &granted)
        .await?;
    draft.id = format!("lyc-{}", uuid::Uuid::new_v4().simple());
    draft.org_id = org.id.clone();
    let secret = (draft.client_type != "public").then(|| random_token("lycs_", 32));
    let mut audit = who.audit("oauth_client.create");
    audit.detail = serde_json::json!({
        "name": draft.name, "kind": draft.kind, "type": draft.client_type,
        "redirect_uris": draft.redirect_uris, "scopes": draft.scopes,
    });
    let hash = secret.as_deref().map(|s| state.secrets.hash_secret(s));
    let client = state
        .store
        .create_oauth_client(&draft, hash.as_deref(), &audit)
        .await?;
    let location = format!("/api/v1/orgs/{}/oauth-clients/{}", org.id, client.id);
    Ok(super::created_with_secret(
        &location,
        with_secret(&state, client, secret),
    ))
}

/// What a secret rotation may say (the body may be left out).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secret keeps working, 0–168 hours (default 24; 0 ends it at once,
    /// for a secret that leaked).
    pub previous_secret_valid_hours: Option<i64>,
}

/// Give a client a new secret (shown once); the previous one keeps working for the grace
/// period asked for, 24 hours by default (apps.manage).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/oauth-clients/{id}/secret", tag = "oauth clients",
    request_body = Option<RotateSecret>,
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "client_id")),
    responses((status = 201, body = NewOAuthClientView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
    OptionalBody(input): OptionalBody<RotateSecret>,
) -> ApiResult<Response> {
    let grace_ms = match input.and_then(|i| i.previous_secret_valid_hours) {
        None => SECRET_GRACE_MS,
        Some(hours @ 0..=168) => hours * 3_600_000,
        Some(_) => {
            return Err(ApiError::invalid(
                "previous_secret_valid_hours must be 0 to 168",
            ))
        }
    };
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "oauth_client.rotate_secret", APPS_MANAGE)
        .await?;
    let current = state.store.get_oauth_client(&org.id, &id).await?;
    if current.client_type == "public" || current.revoked_at.is_some() {
        return Err(ApiError::conflict(
            "only a live confidential or backend client has a secret to rotate",
        ));
    }
    let secret = random_token("lycs_", 32);
    let until = lanyard_store::now_ms() + grace_ms;
    let audit = who.audit("oauth_client.rotate_secret");
    let client = state
        .store
        .rotate_oauth_client_secret(
            &org.id,
            &id,
            &state.secrets.hash_secret(&secret),
            until,
            &audit,
        )
        .await?;
    let location = format!("/api/v1/orgs/{}/oauth-clients/{}", org.id, client.id);
    let mut body = with_secret(&state, client, Some(secret));
    body.previous_secret_valid_until = Some(timestamp(until));
    Ok(super::created_with_secret(&location, body))
}

/// Revoke a client: its sign-ins, codes, tokens and consents end at once (apps.manage).
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
