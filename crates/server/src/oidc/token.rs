//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6; OIDC Core §3.1.3) and revocation (RFC 7009).

use std::sync::Arc;

use aws_lc_rs::digest::{digest, SHA256};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lanyard_store::{GrantRefusal, Issued, OAuthClient, TokenDraft};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client_auth::authenticate;
use super::{IdTokenKeys, OAuthError, ACCESS_TOKEN_TTL_MS, ID_TOKEN_TTL_MS, REFRESH_TOKEN_TTL_MS};
use crate::secrets::random_token;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    token: Option<String>,
}

fn read_form(form: Result<Form<TokenForm>, FormRejection>) -> Result<TokenForm, OAuthError> {
    form.map(|Form(f)| f).map_err(|e| {
        OAuthError::invalid_request(format!(
            "send application/x-www-form-urlencoded parameters, each once ({})",
            e.body_text()
        ))
    })
}

/// Whether `verifier` answers an S256 `challenge` (RFC 7636 §4.6): 43–128 unreserved
/// characters whose SHA-256, base64url-encoded, is the challenge.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            URL_SAFE_NO_PAD
                .encode(digest(&SHA256, verifier.as_bytes()))
                .as_bytes(),
            challenge.as_bytes(),
        )
        .is_ok()
}

/// The request's parameters and the client it authenticates as.
async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<(TokenForm, OAuthClient), OAuthError> {
    let form = read_form(form)?;
    let client = authenticate(
        state,
        headers,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    Ok((form, client))
}

fn drafts(state: &AppState) -> (String, TokenDraft, String, TokenDraft) {
    let now = lanyard_store::now_ms();
    let access = random_token("lya_", 32);
    let refresh = random_token("lyr_", 32);
    let access_draft = TokenDraft {
        token_hash: state.secrets.hash_secret(&access),
        expires_at: now + ACCESS_TOKEN_TTL_MS,
    };
    let refresh_draft = TokenDraft {
        token_hash: state.secrets.hash_secret(&refresh),
        expires_at: now + REFRESH_TOKEN_TTL_MS,
    };
    (access, access_draft, refresh, refresh_draft)
}

fn inactive() -> OAuthError {
    OAuthError::invalid_grant(
        "the user is deactivated in their organization and cannot sign in; reactivating restores sign-in",
    )
}

pub async fn token(
    State(state): State<AppState>,
    State(keys): State<Arc<IdTokenKeys>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let (form, client) = authenticated(&state, &headers, form).await?;
    let (access, access_draft, refresh, refresh_draft) = drafts(&state);
    let issued =
        match form.grant_type.as_deref() {
            Some("authorization_code") => {
                let code = form
                    .code
                    .as_deref()
                    .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
                let redirect_uri = form
                    .redirect_uri
                    .as_deref()
                    .ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
                let verifier = form.code_verifier.as_deref();
                let check = |code: &lanyard_store::AuthCode| {
                    code.redirect_uri == redirect_uri
                        && match (&code.code_challenge, verifier) {
                            (Some(challenge), Some(v)) => pkce_matches(v, challenge),
                            (None, None) => true,
                            // A verifier for a code issued without a challenge is refused too
                            // (a downgrade the client did not ask for).
                            _ => false,
                        }
                };
                match state
                    .store
                    .redeem_code(
                        &state.secrets.hash_secret(code),
                        &client.id,
                        check,
                        &access_draft,
                        &refresh_draft,
                    )
                    .await?
                {
                    Ok((_, issued)) => issued,
                    Err(GrantRefusal::UserInactive) => return Err(inactive()),
                    Err(GrantRefusal::Invalid) => return Err(OAuthError::invalid_grant(
                        "the code is unknown, expired, already used, issued to another client, \
                         or the redirect_uri or code_verifier does not match",
                    )),
                }
            }
            Some("refresh_token") => {
                let token = form
                    .refresh_token
                    .as_deref()
                    .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
                match state
                .store
                .refresh_grant(
                    &state.secrets.hash_secret(token),
                    &client.id,
                    &access_draft,
                    &refresh_draft,
                )
                .await?
            {
                Ok(issued) => issued,
                Err(GrantRefusal::UserInactive) => return Err(inactive()),
                Err(GrantRefusal::Invalid) => return Err(OAuthError::invalid_grant(
                    "the refresh token is unknown, expired, revoked or issued to another client",
                )),
            }
            }
            Some(other) => {
                return Err(OAuthError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    format!(
                "grant_type {other:?} is not supported; use authorization_code or refresh_token"
            ),
                ))
            }
            None => return Err(OAuthError::invalid_request("grant_type is missing")),
        };
    let id_token = id_token(&state, &keys, &client, &issued).await?;
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL_MS / 1000,
        "refresh_token": refresh,
        "id_token": id_token,
        "scope": issued.scope,
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The signed ID token for what was just issued (OIDC Core §2).
async fn id_token(
    state: &AppState,
    keys: &IdTokenKeys,
    client: &OAuthClient,
    issued: &Issued,
) -> Result<String, OAuthError> {
    let org = state.store.get_org(&issued.org_id).await?;
    let user = state
        .store
        .get_user(&issued.org_id, &issued.user_id)
        .await?;
    let mut claims = crate::claims::for_user(&state.store, &org, &user).await?;
    let now = lanyard_store::now_ms() / 1000;
    claims.insert(
        "iss".into(),
        Value::String(state.public_url.issuer().to_string()),
    );
    claims.insert("aud".into(), Value::String(client.id.clone()));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + ID_TOKEN_TTL_MS / 1000));
    claims.insert("auth_time".into(), json!(issued.auth_time / 1000));
    if let Some(nonce) = &issued.nonce {
        claims.insert("nonce".into(), Value::String(nonce.clone()));
    }
    Ok(keys.sign(&claims))
}

/// Token revocation (RFC 7009 §2): the client's own tokens only; an unknown token is not an
/// error (§2.2).
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let (form, client) = authenticated(&state, &headers, form).await?;
    let token = form
        .token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    state
        .store
        .revoke_token(&state.secrets.hash_secret(token), &client.id)
        .await?;
    Ok(axum::http::StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::pkce_matches;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_matches("short", challenge));
        assert!(!pkce_matches(&format!("{verifier}!"), challenge));
    }
}
