//! The authorization endpoint: the first half of an SP-initiated sign-in (the SAML surface's
//! Assertion Consumer Service is the second).
//!
//! `/auth/authorize` checks the request by the rules of `request.rs` (the client and its
//! redirect URI before anything else), then answers from a live session of the same
//! organization, or stores a pending sign-in and sends an AuthnRequest to the organization's
//! IdP, with a cookie that ties it to this browser.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lanyard_store::{AuthCode, LoginRequest, SsoConnection};

use super::page::{auto_post, error_page, store_failure};
use super::request::{self, AuthorizationRequest, AuthorizeQuery, Refusal};
use super::{cookies, see_other, with_query, CODE_TTL_MS, LOGIN_REQUEST_TTL_MS};
use crate::secrets::random_token;
use crate::state::AppState;

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Page { message, detail } => {
                error_page(StatusCode::BAD_REQUEST, message, &detail)
            }
            Refusal::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => {
                let mut params = vec![("error", error), ("error_description", description)];
                if let Some(state) = state.as_deref() {
                    params.push(("state", state));
                }
                see_other(&with_query(&redirect_uri, &params))
            }
        }
    }
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
    let known = match request::client_to_look_up(&q) {
        Ok(Some(client_id)) => state.store.oauth_client(client_id).await,
        Ok(None) => Ok(None),
        Err(refusal) => return refusal.into_response(),
    };
    let client = match known {
        Ok(found) => found.map(|(client, _)| client),
        Err(e) => return store_failure(&e),
    };
    let checked = match request::check(&q, client.as_ref()) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let org = match state.store.get_org(&checked.client().org_id).await {
        Ok(org) => org,
        Err(e) => return store_failure(&e),
    };
    let now = lanyard_store::now_ms();
    let request = match checked.in_org(&org, now) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };

    // A live session of this organization answers at once.
    if !request.force_login {
        if let Some(response) = from_session(&state, &headers, &request, now).await {
            return response;
        }
    }
    if request.prompt_none {
        return request
            .refuse("login_required", "the user is not signed in")
            .into_response();
    }

    let connections = match state
        .store
        .list_sso_connections(&request.client.org_id)
        .await
    {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let Some(connection) = connections.first() else {
        return request
            .refuse(
                "access_denied",
                "the organization has no SSO connection; an admin must add its identity provider",
            )
            .into_response();
    };
    start_sign_in(&state, &headers, &request, connection, now)
}

/// The answer from the browser's session, when it has a live one of the client's organization
/// recent enough for the request: a code, or the page saying the store failed.
async fn from_session(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthorizationRequest<'_>,
    now: i64,
) -> Option<Response> {
    let secret = cookies::session(state, headers)?;
    let hash = state.secrets.hash_secret(secret);
    let client = request.client;
    let session = match state.store.session_by_hash(&hash).await {
        Ok(Some(session))
            if session.org_id == client.org_id
                && request
                    .max_age_ms
                    .is_none_or(|m| session.auth_time >= now - m) =>
        {
            session
        }
        Ok(_) => return None,
        Err(e) => return Some(store_failure(&e)),
    };
    let code = random_token("lyc_", 32);
    let draft = AuthCode {
        org_id: client.org_id.clone(),
        client_id: client.id.clone(),
        user_id: session.user_id.clone(),
        session_id: Some(session.id.clone()),
        redirect_uri: request.redirect_uri.to_string(),
        scope: request.scope.to_string(),
        nonce: request.nonce.map(str::to_string),
        code_challenge: request.code_challenge.map(str::to_string),
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
        Ok(Ok(())) => Some(success(request.redirect_uri, &code, request.state)),
        // The session ended meanwhile: sign in again.
        Ok(Err(_)) => None,
        Err(e) => Some(store_failure(&e)),
    }
}

/// Sends the browser to the IdP of `connection` with an AuthnRequest, holding the pending
/// sign-in in a cookie.
fn start_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthorizationRequest<'_>,
    connection: &SsoConnection,
    now: i64,
) -> Response {
    let client = request.client;
    // An xs:ID: a letter or underscore first.
    let request_id = format!("_{}", uuid::Uuid::new_v4().simple());
    let pending = LoginRequest {
        id: request_id.clone(),
        org_id: client.org_id.clone(),
        connection_id: connection.id.clone(),
        client_id: client.id.clone(),
        redirect_uri: request.redirect_uri.to_string(),
        scope: request.scope.to_string(),
        state: request.state.map(str::to_string),
        nonce: request.nonce.map(str::to_string),
        code_challenge: request.code_challenge.map(str::to_string),
        auth_not_before: request.auth_not_before,
        created_at: now,
        expires_at: now + LOGIN_REQUEST_TTL_MS,
    };
    let acs_url = state.public_url.acs();
    let authn_request = lanyard_saml::requests::AuthnRequest {
        id: &request_id,
        issue_instant: now,
        destination: &connection.sso_url,
        sp_entity_id: &connection.sp_entity_id,
        acs_url: &acs_url,
        name_id_format: None,
        force_authn: request.auth_not_before.is_some(),
    };
    let xml = authn_request.to_xml();
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
    if cookies::set_pending(
        state,
        headers,
        &mut response,
        &pending,
        request.redirect_index,
    )
    .is_err()
    {
        return request
            .refuse(
                "invalid_request",
                "the authorization request is too large to keep while the user signs in; shorten state, nonce or scope",
            )
            .into_response();
    }
    response
}
