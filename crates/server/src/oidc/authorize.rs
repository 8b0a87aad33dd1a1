//! The authorization endpoint: the first half of an SP-initiated sign-in (the SAML surface's
//! Assertion Consumer Service is the second).
//!
//! `/auth/authorize` checks the request by the rules of `request.rs` (the client and its
//! redirect URI before anything else), then answers from a live session of the same
//! organization, or shows the sign-in page (`login.rs`) with the pending sign-in sealed in a
//! cookie that ties it to this browser.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lanyard_store::UserKind;

use super::page::{error_page, store_failure};
use super::request::{self, AuthorizationRequest, AuthorizeQuery, Refusal};
use super::{consent, cookies, login, see_other, step, with_query};
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
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "signin-malformed", &e.body_text()),
    };
    // An authorization request is a page the user opens, never an image, script or frame
    // another site embeds (which could start sign-ins in the background).
    if headers
        .get("sec-fetch-dest")
        .is_some_and(|dest| dest.as_bytes() != b"document")
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "signin-framed",
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
    let connections = match state.store.list_sso_connections(&org.id).await {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let pending = step::new_pending(&request, now);
    let mut response = login::identifier_page(
        &state,
        &org,
        &pending.form_nonce,
        request.login_hint,
        connections.iter().find(|c| c.enabled),
    );
    if cookies::set_pending(
        &state,
        &headers,
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

/// The answer from the browser's session, when it has a live one of the client's organization
/// recent enough for the request, whose user the client admits: a code, the consent page, or
/// the page saying the store failed.
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
    let (user, org) = match tokio::try_join!(
        state.store.get_user(&session.org_id, &session.user_id),
        state.store.get_org(&session.org_id)
    ) {
        Ok(found) => found,
        Err(e) => return Some(store_failure(&e)),
    };
    let is_service = user.kind == UserKind::Service;
    // Someone else must sign in for this client: the sign-in page, as without a session.
    request::admits(client, &user.id, is_service).ok()?;
    let step = step::Step {
        pending: step::new_pending(request, now),
        redirect_index: request.redirect_index,
        slot: None,
        client: client.clone(),
        org,
    };
    match consent::needs_consent(state, client, &step.org.id, &user.id).await {
        Ok(false) => {}
        // OIDC Core §3.1.2.6: no page may be shown.
        Ok(true) if request.prompt_none => {
            return Some(
                request
                    .refuse(
                        "consent_required",
                        "the user has not consented to this client",
                    )
                    .into_response(),
            )
        }
        Ok(true) => return Some(consent::consent_page(state, headers, step, &session).await),
        Err(e) => return Some(store_failure(&e)),
    }
    match consent::code_from_session(state, &step, &session).await {
        Ok(Some(code)) => Some(success(request.redirect_uri, &code, request.state)),
        // The session ended meanwhile: sign in again.
        Ok(None) => None,
        Err(e) => Some(store_failure(&e)),
    }
}
