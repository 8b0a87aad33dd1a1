//! The UserInfo endpoint (OIDC Core §5.3): the same claims as the ID token, for a live access
//! token whose user is still active, read fresh at each call.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{Map, Value};

use super::OAuthError;
use crate::state::AppState;

pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Map<String, Value>>, OAuthError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            OAuthError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_request",
                "send the access token as Authorization: Bearer <token>",
            )
        })?;
    let found = state
        .store
        .access_token(&state.secrets.hash_secret(token))
        .await?
        .ok_or_else(|| {
            OAuthError::invalid_token(
                "the access token is unknown, expired or revoked, or its user was deactivated",
            )
        })?
        .token;
    let user_id = found.user_id.as_deref().ok_or_else(|| {
        OAuthError::invalid_token(
            "this access token was issued to a client for itself (client credentials) and names no user",
        )
    })?;
    let org = state.store.get_org(&found.org_id).await?;
    let user = state.store.get_user(&found.org_id, user_id).await?;
    Ok(Json(
        crate::claims::for_user(&state.store, &org, &user).await?,
    ))
}
