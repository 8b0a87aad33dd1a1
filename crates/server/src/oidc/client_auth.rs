//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
//! HTTP Basic (`client_secret_basic`, with the form-urlencoded id and secret of Appendix B),
//! the secret in the body (`client_secret_post`), each only for a client registered with it,
//! or for a public client its id alone. An access key is a client too (its id and secret,
//! either method). After a rotation the previous secret works until its grace period ends.

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
    let used_basic = basic.is_some();
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
    let (client, secrets) = state
        .store
        .oauth_client(&client_id)
        .await?
        .ok_or_else(unknown)?;
    if client.revoked_at.is_some() {
        return Err(unknown());
    }
    let hashes = secrets.valid_hashes(lanyard_store::now_ms());
    match (hashes.is_empty(), secret) {
        (false, Some(secret)) => {
            // A registered method is kept to (RFC 7591 §2); an access key takes either.
            let wrong_method = match client.token_endpoint_auth_method.as_str() {
                _ if client.is_access_key() => None,
                "client_secret_basic" if !used_basic => Some("client_secret_basic"),
                "client_secret_post" if used_basic => Some("client_secret_post"),
                _ => None,
            };
            if let Some(method) = wrong_method {
                return Err(OAuthError::invalid_client(format!(
                    "this client is registered to authenticate with {method}"
                )));
            }
            if hashes
                .iter()
                .any(|hash| state.secrets.verify_secret(&secret, hash))
            {
                Ok(client)
            } else {
                Err(unknown())
            }
        }
        (false, None) => Err(OAuthError::invalid_client(
            "this client is confidential: authenticate with its secret",
        )),
        (true, None) => Ok(client),
        (true, Some(_)) => Err(OAuthError::invalid_client(
            "this client is public and has no secret; send client_id alone with PKCE",
        )),
    }
}
