//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3): HTTP Basic
//! (`client_secret_basic`, with the form-urlencoded id and secret of Appendix B), the secret in
//! the body (`client_secret_post`), or for a public client its id alone.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lanyard_store::OAuthClient;

use super::OAuthError;
use crate::state::AppState;

fn form_decode(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The client named and proven by the request.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<OAuthClient, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                OAuthError::invalid_client("the Authorization header is unreadable")
            })?;
            let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_client(
                    "authenticate the client with HTTP Basic or client_secret_post",
                ));
            }
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    OAuthError::invalid_client("the Basic credentials are not base64")
                })?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("the Basic credentials have no ':'"))?;
            let (id, secret) = form_decode(id).zip(form_decode(secret)).ok_or_else(|| {
                OAuthError::invalid_client("the Basic credentials are not form-encoded UTF-8")
            })?;
            Some((id, secret))
        }
        None => None,
    };
    if basic.is_some() && form_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "the client authenticated twice (Basic and client_secret); use one method",
        ));
    }
    let (client_id, secret) = match (basic, form_client_id) {
        (Some((id, _)), Some(form_id)) if id != form_id => {
            return Err(OAuthError::invalid_client(
                "client_id in the body differs from the Basic credentials",
            ))
        }
        (Some((id, secret)), _) => (id, Some(secret)),
        (None, Some(id)) => (id.to_string(), form_secret.map(str::to_string)),
        (None, None) => return Err(OAuthError::invalid_client("no client_id was given")),
    };
    let unknown = || OAuthError::invalid_client("unknown client, wrong secret, or client revoked");
    if !super::clean(&client_id, 200) {
        return Err(unknown());
    }
    let (client, secret_hash) = state
        .store
        .oauth_client(&client_id)
        .await?
        .ok_or_else(unknown)?;
    if client.revoked_at.is_some() {
        return Err(unknown());
    }
    match (secret_hash, secret) {
        (Some(hash), Some(secret)) if state.secrets.verify_secret(&secret, &hash) => Ok(client),
        (Some(_), None) => Err(OAuthError::invalid_client(
            "this client is confidential: authenticate with its secret",
        )),
        (Some(_), Some(_)) => Err(unknown()),
        (None, None) => Ok(client),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this client is public and has no secret; send client_id alone with PKCE",
        )),
    }
}
