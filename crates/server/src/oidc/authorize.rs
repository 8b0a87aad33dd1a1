//! The authorization endpoint: the first half of an SP-initiated sign-in (the SAML surface's
//! Assertion Consumer Service is the second).
//!
//! `/auth/authorize` checks the client and its redirect URI before anything else (RFC 6749
//! §4.1.2.1: an unverified redirect URI gets an error page, never a redirect), then answers
//! from a live session of the same organization, or stores a pending sign-in and sends an
//! AuthnRequest to the organization's IdP, with a cookie that ties it to this browser.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use lanyard_saml::response;
use lanyard_store::{AuthCode, LoginRequest};
use serde::Deserialize;

use super::page::{auto_post, error_page, store_failure};
use super::{clean, cookies, see_other, with_query, CODE_TTL_MS, LOGIN_REQUEST_TTL_MS};
use crate::secrets::random_token;
use crate::state::AppState;

/// Query parameters of an authorization request (OIDC Core §3.1.2.1), plus `organization`.
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    organization: Option<String>,
    /// Request objects are not supported; their presence is an error, not silently ignored.
    request: Option<String>,
    request_uri: Option<String>,
    response_mode: Option<String>,
}

/// Longest `state` and `nonce` kept.
const MAX_PARAM_LEN: usize = 512;

/// An error sent back to the client's (verified) redirect URI.
fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    see_other(&with_query(redirect_uri, &params))
}

/// The authorization response: the code sent back to the client's redirect URI.
pub fn success(redirect_uri: &str, code: &str, state: Option<&str>) -> Response {
    let mut params = vec![("code", code)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    see_other(&with_query(redirect_uri, &params))
}

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    let q =
        match query {
            Ok(Query(q)) => q,
            Err(e) => return error_page(
                StatusCode::BAD_REQUEST,
                "The app's sign-in request is malformed (a parameter is repeated or unreadable).",
                &e.body_text(),
            ),
        };
    // An authorization request is a page the user opens, never an image, script or frame
    // another site embeds (which could start sign-ins in the background).
    if headers
        .get("sec-fetch-dest")
        .is_some_and(|dest| dest.as_bytes() != b"document")
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in has to be opened as a page of its own.",
            "authorization request not fetched as a document",
        );
    }
    let Some(client_id) = q.client_id.as_deref() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The app's sign-in request names no client (client_id is missing).",
            "client_id missing",
        );
    };
    let known = if clean(client_id, 200) {
        state.store.oauth_client(client_id).await
    } else {
        Ok(None)
    };
    let client = match known {
        Ok(Some((client, _))) if client.revoked_at.is_none() => client,
        Ok(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The app's sign-in request names a client that is unknown or revoked.",
                client_id,
            )
        }
        Err(e) => return store_failure(&e),
    };
    let Some(redirect_uri) = q
        .redirect_uri
        .as_deref()
        .filter(|uri| client.redirect_uris.iter().any(|r| r == uri))
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The app asked to return to an address that is not registered for it (redirect_uri).",
            q.redirect_uri.as_deref().unwrap_or("redirect_uri missing"),
        );
    };
    // From here on errors go back to the client.
    let state_param = q.state.as_deref();
    let fail = |error: &str, description: &str| {
        redirect_error(redirect_uri, state_param, error, description)
    };
    if q.request.is_some() || q.request_uri.is_some() {
        return fail(
            "request_not_supported",
            "request objects are not supported; send the parameters in the query",
        );
    }
    if q.response_mode.as_deref().is_some_and(|m| m != "query") {
        return fail("invalid_request", "only response_mode=query is supported");
    }
    if q.response_type.as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "only the authorization code flow is supported: response_type=code",
        );
    }
    let scope = q.scope.as_deref().unwrap_or("");
    if !scope.split(' ').any(|s| s == "openid") {
        return fail("invalid_scope", "the scope must include openid");
    }
    let params = [
        state_param,
        q.nonce.as_deref(),
        Some(scope),
        q.organization.as_deref(),
    ];
    if params
        .into_iter()
        .flatten()
        .any(|p| !clean(p, MAX_PARAM_LEN))
    {
        return fail(
            "invalid_request",
            "state, nonce, scope and organization are limited to 512 characters without control characters",
        );
    }
    let challenge = match (
        q.code_challenge.as_deref(),
        q.code_challenge_method.as_deref(),
    ) {
        (Some(c), Some("S256")) if is_s256_challenge(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => {
            return fail(
                "invalid_request",
                "code_challenge must be 43 base64url characters (S256)",
            )
        }
        (Some(_), _) => {
            return fail(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            )
        }
        (None, Some(_)) => {
            return fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            )
        }
        (None, None) if !client.confidential => {
            return fail(
                "invalid_request",
                "a public client must use PKCE (code_challenge with S256)",
            )
        }
        (None, None) => None,
    };
    let org = match state.store.get_org(&client.org_id).await {
        Ok(org) => org,
        Err(e) => return store_failure(&e),
    };
    if let Some(named) = q.organization.as_deref() {
        if !named.eq_ignore_ascii_case(&org.short_name) && named != org.id {
            return fail(
                "invalid_request",
                "this client belongs to another organization than the one named",
            );
        }
    }
    let prompt: Vec<&str> = q.prompt.as_deref().unwrap_or("").split(' ').collect();
    let max_age_ms = match q.max_age.as_deref().map(str::parse::<u32>) {
        None => None,
        Some(Ok(seconds)) => Some(i64::from(seconds) * 1000),
        Some(Err(_)) => {
            return fail(
                "invalid_request",
                "max_age must be a whole number of seconds",
            )
        }
    };
    let now = lanyard_store::now_ms();
    // The earliest authentication at the IdP the client accepts (OIDC Core §3.1.2.1): a new
    // one for prompt=login, one within max_age otherwise — give or take the clock skew allowed
    // between the IdP and us.
    let auth_not_before = match (prompt.contains(&"login"), max_age_ms) {
        (true, _) => Some(now - response::DEFAULT_CLOCK_SKEW_MS),
        (false, Some(max_age)) => Some(now - max_age - response::DEFAULT_CLOCK_SKEW_MS),
        (false, None) => None,
    };
    let force_login = prompt.contains(&"login");
    if prompt.contains(&"none") && (force_login || prompt.contains(&"consent")) {
        return fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }

    // A live session of this organization answers at once.
    if !force_login {
        if let Some(secret) = cookies::session(&state, &headers) {
            let hash = state.secrets.hash_secret(secret);
            match state.store.session_by_hash(&hash).await {
                Ok(Some(session))
                    if session.org_id == client.org_id
                        && max_age_ms.is_none_or(|m| session.auth_time >= now - m) =>
                {
                    let code = random_token("lyc_", 32);
                    let draft = AuthCode {
                        org_id: client.org_id.clone(),
                        client_id: client.id.clone(),
                        user_id: session.user_id.clone(),
                        session_id: Some(session.id.clone()),
                        redirect_uri: redirect_uri.to_string(),
                        scope: scope.to_string(),
                        nonce: q.nonce.clone(),
                        code_challenge: challenge.clone(),
                        auth_time: session.auth_time,
                        expires_at: lanyard_store::now_ms() + CODE_TTL_MS,
                        grant_id: uuid::Uuid::now_v7().to_string(),
                        connection_id: session.connection_id.clone(),
                    };
                    match state
                        .store
                        .issue_code(&state.secrets.hash_secret(&code), &draft)
                        .await
                    {
                        Ok(Ok(())) => return success(redirect_uri, &code, state_param),
                        // The session ended meanwhile: sign in again below.
                        Ok(Err(_)) => {}
                        Err(e) => return store_failure(&e),
                    }
                }
                Ok(_) => {}
                Err(e) => return store_failure(&e),
            }
        }
    }
    if prompt.contains(&"none") {
        return fail("login_required", "the user is not signed in");
    }

    let connections = match state.store.list_sso_connections(&client.org_id).await {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let Some(connection) = connections.first() else {
        return fail(
            "access_denied",
            "the organization has no SSO connection; an admin must add its identity provider",
        );
    };
    // An xs:ID: a letter or underscore first.
    let request_id = format!("_{}", uuid::Uuid::new_v4().simple());
    let pending = LoginRequest {
        id: request_id.clone(),
        org_id: client.org_id.clone(),
        connection_id: connection.id.clone(),
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope: scope.to_string(),
        state: q.state.clone(),
        nonce: q.nonce.clone(),
        code_challenge: challenge,
        auth_not_before,
        created_at: now,
        expires_at: now + LOGIN_REQUEST_TTL_MS,
    };
    let acs_url = state.public_url.acs();
    let request = lanyard_saml::requests::AuthnRequest {
        id: &request_id,
        issue_instant: now,
        destination: &connection.sso_url,
        sp_entity_id: &connection.sp_entity_id,
        acs_url: &acs_url,
        name_id_format: None,
        force_authn: auth_not_before.is_some(),
    };
    let xml = request.to_xml();
    let mut response = if connection.endpoint_compression {
        let url = lanyard_saml::bindings::redirect_url(
            &connection.sso_url,
            lanyard_saml::bindings::Kind::Request,
            &xml,
            None,
            None,
        );
        see_other(&url)
    } else {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
        auto_post(&connection.sso_url, &[("SAMLRequest", &encoded)])
    };
    let redirect_index = client
        .redirect_uris
        .iter()
        .position(|r| r == redirect_uri)
        .unwrap_or_default();
    if cookies::set_pending(&state, &headers, &mut response, &pending, redirect_index).is_err() {
        return fail(
            "invalid_request",
            "the authorization request is too large to keep while the user signs in; shorten state, nonce or scope",
        );
    }
    response
}

/// A 43-character base64url value: what S256 produces (RFC 7636 §4.2).
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
