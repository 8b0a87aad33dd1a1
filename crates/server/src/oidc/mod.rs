//! The OpenID Connect face toward the product: discovery, the authorization endpoint (which
//! signs the user in through their organization's SAML IdP or with a password), consent for
//! integrations, invitations' activation pages, the token endpoint (authorization code,
//! refresh, client credentials), userinfo, revocation, introspection and the signing keys.
//! PKCE with S256, client_secret_basic / client_secret_post / none (public clients, PKCE
//! required).
//!
//! The SAML surface finishes the sign-ins started here, with this module's cookies, pages and
//! authorization response.

mod activate;
mod authorize;
mod client_auth;
pub mod consent;
pub mod cookies;
mod error;
pub mod keys;
pub mod login;
pub mod page;
mod request;
pub mod step;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub use crate::urls::{see_other, with_query};
pub use authorize::success;
pub use error::OAuthError;
pub use keys::IdTokenKeys;
pub use request::admits;
pub use token::pkce_matches;

/// What the OIDC handlers reach: the shared state and the ID-token signing keys.
#[derive(Clone)]
pub struct OidcState {
    pub app: AppState,
    pub keys: Arc<IdTokenKeys>,
    /// Password attempts allowed per account and per client address.
    pub logins: login::LoginLimits,
}

impl FromRef<OidcState> for AppState {
    fn from_ref(state: &OidcState) -> AppState {
        state.app.clone()
    }
}

impl FromRef<OidcState> for Arc<IdTokenKeys> {
    fn from_ref(state: &OidcState) -> Arc<IdTokenKeys> {
        state.keys.clone()
    }
}

/// How long things last, in milliseconds.
pub const LOGIN_REQUEST_TTL_MS: i64 = 10 * 60_000;
pub const CODE_TTL_MS: i64 = 60_000;
pub const ACCESS_TOKEN_TTL_MS: i64 = 60 * 60_000;
pub const REFRESH_TOKEN_TTL_MS: i64 = 30 * 24 * 60 * 60_000;
/// Refresh tokens of integrations and access keys: provisioning runs for months. Each use
/// rotates the token and starts a new year.
pub const INTEGRATION_REFRESH_TOKEN_TTL_MS: i64 = 365 * 24 * 60 * 60_000;
pub const ID_TOKEN_TTL_MS: i64 = 5 * 60_000;
pub const SESSION_TTL_MS: i64 = 12 * 60 * 60_000;

/// Routes under `/.well-known` and `/auth`.
pub fn router() -> Router<OidcState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/auth/jwks", get(jwks))
        .route("/auth/authorize", get(authorize::authorize))
        .route("/auth/login", post(login::identifier))
        .route("/auth/login/password", post(login::password))
        .route("/auth/consent", post(consent::answer))
        .route(
            "/auth/activate",
            get(activate::page).post(activate::set_password),
        )
        .route("/auth/token", post(token::token))
        .route("/auth/revoke", post(token::revoke))
        .route("/auth/introspect", post(token::introspect))
        .route(
            "/auth/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
}

async fn discovery(State(state): State<AppState>) -> Json<serde_json::Value> {
    let url = &state.public_url;
    Json(json!({
        "issuer": url.issuer(),
        "authorization_endpoint": url.join("/auth/authorize"),
        "token_endpoint": url.join("/auth/token"),
        "userinfo_endpoint": url.join("/auth/userinfo"),
        "jwks_uri": url.join("/auth/jwks"),
        "revocation_endpoint": url.join("/auth/revoke"),
        "introspection_endpoint": url.join("/auth/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "scim", "employees.view", "employees.create", "employees.edit"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "name", "org", "roles", "groups"],
        "prompt_values_supported": ["none", "login"],
    }))
}

async fn jwks(State(keys): State<Arc<IdTokenKeys>>) -> Response {
    let mut response = Json(keys.jwks().clone()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// Whether a request parameter is short enough and free of control characters (a NUL, which
/// PostgreSQL refuses in text, among them) to be looked up or stored.
fn clean(value: &str, max: usize) -> bool {
    value.len() <= max && !value.chars().any(char::is_control)
}
