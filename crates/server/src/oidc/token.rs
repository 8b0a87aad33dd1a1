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
use super::{
    IdTokenKeys, OAuthError, ACCESS_TOKEN_TTL_MS, ID_TOKEN_TTL_MS,
    INTEGRATION_REFRESH_TOKEN_TTL_MS, REFRESH_TOKEN_TTL_MS,
};
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
    scope: Option<String>,
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
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
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

/// New access and refresh tokens for `client`: an integration's or access key's refresh token
/// lives a year (provisioning runs for months), an app's thirty days.
fn drafts(state: &AppState, client: &OAuthClient) -> (String, TokenDraft, String, TokenDraft) {
    let now = lanyard_store::now_ms();
    let access = random_token("lya_", 32);
    let refresh = random_token("lyr_", 32);
    let refresh_ttl = if client.kind == "integration" {
        INTEGRATION_REFRESH_TOKEN_TTL_MS
    } else {
        REFRESH_TOKEN_TTL_MS
    };
    let access_draft = TokenDraft {
        token_hash: state.secrets.hash_secret(&access),
        expires_at: now + ACCESS_TOKEN_TTL_MS,
    };
    let refresh_draft = TokenDraft {
        token_hash: state.secrets.hash_secret(&refresh),
        expires_at: now + refresh_ttl,
    };
    (access, access_draft, refresh, refresh_draft)
}

fn inactive() -> OAuthError {
    OAuthError::invalid_grant(
        "the user is deactivated in their organization and cannot sign in; reactivating restores sign-in",
    )
}

fn unauthorized_client(description: &str) -> OAuthError {
    OAuthError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "unauthorized_client",
        description,
    )
}

/// A token response, never cached (RFC 6749 §5.1).
fn no_store(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub async fn token(
    State(state): State<AppState>,
    State(keys): State<Arc<IdTokenKeys>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let (form, client) = authenticated(&state, &headers, form).await?;
    let grant = form
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    if client.client_type == "backend" && grant != "client_credentials" {
        return Err(unauthorized_client(
            "this client is registered as a backend client: it uses client credentials only and \
             cannot take part in the authorization code flow; register a confidential or public client",
        ));
    }
    let (access, access_draft, refresh, refresh_draft) = drafts(&state, &client);
    let drafted = (&access_draft, &refresh_draft);
    let issued = match grant {
        "authorization_code" => redeem(&state, &form, &client, drafted).await?,
        "refresh_token" => refresh_grant(&state, &form, &client, drafted).await?,
        "client_credentials" => return client_credentials(&state, &form, &client).await,
        other => {
            return Err(OAuthError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "grant_type {other:?} is not supported; use authorization_code, \
                     refresh_token or client_credentials"
                ),
            ))
        }
    };
    let id_token = id_token(&state, &keys, &client, &issued).await?;
    Ok(no_store(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL_MS / 1000,
        "refresh_token": refresh,
        "id_token": id_token,
        "scope": issued.scope,
    })))
}

/// The authorization code grant (RFC 6749 §4.1.3): the code spent once, its redirect URI and
/// PKCE verifier checked.
async fn redeem(
    state: &AppState,
    form: &TokenForm,
    client: &OAuthClient,
    (access, refresh): (&TokenDraft, &TokenDraft),
) -> Result<Issued, OAuthError> {
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
                // A verifier for a code issued without a challenge is refused too (a
                // downgrade the client did not ask for).
                _ => false,
            }
    };
    match state
        .store
        .redeem_code(
            &state.secrets.hash_secret(code),
            &client.id,
            check,
            access,
            refresh,
        )
        .await?
    {
        Ok((_, issued)) => Ok(issued),
        Err(GrantRefusal::UserInactive) => Err(inactive()),
        Err(GrantRefusal::Invalid) => Err(OAuthError::invalid_grant(
            "the code is unknown, expired, already used, issued to another client, \
             or the redirect_uri or code_verifier does not match",
        )),
    }
}

/// The refresh grant (RFC 6749 §6): the refresh token rotates; one used twice ends its grant.
async fn refresh_grant(
    state: &AppState,
    form: &TokenForm,
    client: &OAuthClient,
    (access, refresh): (&TokenDraft, &TokenDraft),
) -> Result<Issued, OAuthError> {
    let token = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    match state
        .store
        .refresh_grant(
            &state.secrets.hash_secret(token),
            &client.id,
            access,
            refresh,
        )
        .await?
    {
        Ok(issued) => Ok(issued),
        Err(GrantRefusal::UserInactive) => Err(inactive()),
        Err(GrantRefusal::Invalid) => Err(OAuthError::invalid_grant(
            "the refresh token is unknown, expired, revoked, already used (which ends every \
             token of its grant) or issued to another client",
        )),
    }
}

/// The client credentials grant (RFC 6749 §4.4): for backend clients, integrations and
/// access keys. An access key's token acts as its service account; another client's carries
/// the permission scopes it is granted. No refresh token (§4.4.3).
async fn client_credentials(
    state: &AppState,
    form: &TokenForm,
    client: &OAuthClient,
) -> Result<Response, OAuthError> {
    let allowed = client.is_access_key()
        || client.client_type == "backend"
        || (client.kind == "integration" && client.client_type == "confidential");
    if !allowed {
        return Err(unauthorized_client(
            "client credentials are for backend clients, confidential integrations and access \
             keys; this client signs users in with the authorization code flow",
        ));
    }
    let invalid_scope =
        |why: String| OAuthError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_scope", why);
    let scope = if client.is_access_key() {
        let asked = form.scope.as_deref().unwrap_or("");
        if let Some(extra) = asked
            .split(' ')
            .find(|s| !s.is_empty() && !client.scopes.iter().any(|r| r == s))
        {
            return Err(invalid_scope(format!(
                "an access key acts with its service account's permissions; scope {extra:?} is not one it takes"
            )));
        }
        asked.to_string()
    } else {
        crate::oauth_scopes::client_credentials(form.scope.as_deref(), &client.scopes)
            .map_err(invalid_scope)?
    };
    let access = random_token("lya_", 32);
    let draft = TokenDraft {
        token_hash: state.secrets.hash_secret(&access),
        expires_at: lanyard_store::now_ms() + ACCESS_TOKEN_TTL_MS,
    };
    let issued = state
        .store
        .issue_client_token(
            &client.org_id,
            &client.id,
            client.service_user_id.as_deref(),
            &scope,
            &draft,
        )
        .await?;
    match issued {
        Ok(()) => Ok(no_store(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_MS / 1000,
            "scope": scope,
        }))),
        Err(GrantRefusal::UserInactive) => Err(OAuthError::invalid_grant(
            "the access key's service account is deactivated",
        )),
        Err(GrantRefusal::Invalid) => Err(OAuthError::invalid_client(
            "unknown client, wrong secret, or client revoked",
        )),
    }
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

/// Token introspection (RFC 7662 §2) for the product's backend. Who may ask about what (§4):
/// a client about its own tokens, and a backend client (a resource server) about any token of
/// its organization; a client without a secret not at all. Anything else, and any token not
/// live, is `{"active": false}` (§2.2), so the answer tells nobody whether a token exists.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let (form, client) = authenticated(&state, &headers, form).await?;
    if client.client_type == "public" {
        return Err(OAuthError::invalid_client(
            "introspection needs a client that authenticates with a secret",
        ));
    }
    let token = form
        .token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let found = state
        .store
        .introspect_token(&state.secrets.hash_secret(token))
        .await?
        .map(|live| live.token)
        .filter(|t| {
            t.org_id == client.org_id
                && (t.client_id == client.id || client.client_type == "backend")
        });
    let Some(found) = found else {
        return Ok(no_store(json!({ "active": false })));
    };
    let mut body = json!({
        "active": true,
        "scope": found.scope,
        "client_id": found.client_id,
        "token_type": if found.kind == "access" { "Bearer" } else { "refresh_token" },
        "exp": found.expires_at / 1000,
        "iat": found.created_at / 1000,
        "iss": state.public_url.issuer(),
        "aud": found.client_id,
        "org": found.org_id,
    });
    if let Some(user_id) = &found.user_id {
        body["sub"] = Value::String(user_id.clone());
        if let Ok(user) = state.store.get_user(&found.org_id, user_id).await {
            body["username"] = Value::String(user.user_name);
        }
    }
    Ok(no_store(body))
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
