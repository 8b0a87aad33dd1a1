//! A sign-in in progress across Lanyard's pages: the pending sign-in the browser holds (sealed
//! in a cookie slot), picked up again by each step with its client and organization, and the
//! ways a step ends it.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use lanyard_store::{LoginRequest, OAuthClient, Organization};

use super::cookies;
use super::page::{error_page, store_failure};
use super::{see_other, LOGIN_REQUEST_TTL_MS};
use crate::secrets::random_token;
use crate::state::AppState;

/// A pending sign-in picked up by a later step, with its client and organization.
pub struct Step {
    pub pending: LoginRequest,
    pub redirect_index: usize,
    /// The cookie slot holding it; `None` while only the server has it (a live session
    /// answering the authorization request).
    pub slot: Option<usize>,
    pub client: OAuthClient,
    pub org: Organization,
}

/// Whether a form post comes from this deployment's own pages: a browser names the page's
/// origin (`Origin`) and whether it is another site's (`Sec-Fetch-Site`). Clients that send
/// neither (not browsers) are judged by the form nonce alone.
fn from_own_page(state: &AppState, headers: &HeaderMap) -> bool {
    let own = state.public_url.origin();
    let origin_ok = headers
        .get(axum::http::header::ORIGIN)
        .is_none_or(|o| o.as_bytes() == own.as_bytes());
    let site_ok = headers
        .get("sec-fetch-site")
        .is_none_or(|s| matches!(s.as_bytes(), b"same-origin" | b"none"));
    origin_ok && site_ok
}

/// The pending sign-in this browser holds under the form nonce `nonce`, its redirect URI
/// restored, with its live client and organization; or the page saying it cannot go on.
pub async fn open_step(
    state: &AppState,
    headers: &HeaderMap,
    nonce: &str,
) -> Result<Step, Response> {
    if !from_own_page(state, headers) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "signin-cross-site",
            "form post from a foreign origin",
        ));
    }
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "signin-expired",
            "no pending sign-in with that form nonce in this browser",
        )
    };
    let held = cookies::pending_for_form(state, headers, nonce).ok_or_else(expired)?;
    let client = match state.store.oauth_client(&held.request.client_id).await {
        Ok(Some((client, _))) if client.revoked_at.is_none() => client,
        Ok(_) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "signin-client-gone",
                "client gone or revoked",
            ))
        }
        Err(e) => return Err(store_failure(&e)),
    };
    let mut pending = held.request;
    let Some(uri) = client.redirect_uris.get(held.redirect_index) else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "signin-client-changed",
            "redirect index",
        ));
    };
    pending.redirect_uri = uri.clone();
    let org = state
        .store
        .get_org(&pending.org_id)
        .await
        .map_err(|e| store_failure(&e))?;
    Ok(Step {
        pending,
        redirect_index: held.redirect_index,
        slot: Some(held.slot),
        client,
        org,
    })
}

/// An OAuth error sent back to the client's (verified) redirect URI, ending the pending
/// sign-in.
pub fn refuse_to_client(state: &AppState, step: &Step, error: &str, description: &str) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = step.pending.state.as_deref() {
        params.push(("state", s));
    }
    let mut response = see_other(&super::with_query(&step.pending.redirect_uri, &params));
    if let Some(slot) = step.slot {
        cookies::clear_pending(state, &mut response, slot);
    }
    response
}

/// A new pending sign-in for an authorization request that passed, not yet tied to a
/// connection (the identifier step picks one, or none for a password).
pub fn new_pending(request: &super::request::AuthorizationRequest<'_>, now: i64) -> LoginRequest {
    let client = request.client;
    LoginRequest {
        // An xs:ID (it becomes the AuthnRequest's ID): a letter or underscore first.
        id: format!("_{}", uuid::Uuid::new_v4().simple()),
        org_id: client.org_id.clone(),
        connection_id: String::new(),
        client_id: client.id.clone(),
        redirect_uri: request.redirect_uri.to_string(),
        scope: request.scope.to_string(),
        state: request.state.map(str::to_string),
        nonce: request.nonce.map(str::to_string),
        code_challenge: request.code_challenge.map(str::to_string),
        auth_not_before: request.auth_not_before,
        created_at: now,
        expires_at: now + LOGIN_REQUEST_TTL_MS,
        form_nonce: random_token("", 24),
        consent_session: None,
    }
}

/// Seals the step's pending sign-in (as it now stands) into its slot, or a new one.
pub fn keep(state: &AppState, headers: &HeaderMap, response: &mut Response, step: &Step) -> bool {
    let kept = match step.slot {
        Some(slot) => {
            cookies::replace_pending(state, response, &step.pending, step.redirect_index, slot)
        }
        None => cookies::set_pending(state, headers, response, &step.pending, step.redirect_index),
    };
    kept.is_ok()
}
