//! The two cookies of a sign-in: the pending sign-in (sealed, one per sign-in in flight) and
//! the session. On an https deployment both carry the `__Host-` prefix, so no sibling
//! subdomain can plant one (which would defeat the pending sign-in's tie to its browser, or fix
//! a session); browsers refuse that prefix over plain http, where the names go without it.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use lanyard_store::LoginRequest;

use super::cookie;
use crate::state::AppState;

const SEAL_PURPOSE: &str = "pending-sign-in";

fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

fn name(state: &AppState, base: &str) -> String {
    if secure(state) {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// One cookie per pending sign-in (named by its AuthnRequest ID), so sign-ins started in two
/// tabs do not undo each other.
fn pending_name(state: &AppState, request_id: &str) -> String {
    name(state, &format!("lanyard_login{request_id}"))
}

fn set(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Gives the browser its pending sign-in, sealed under the master key. The IdP posts the
/// Response cross-site, which only a `SameSite=None` cookie survives; such a cookie must be
/// Secure, which browsers also grant to http://localhost.
pub fn set_pending(state: &AppState, response: &mut Response, request: &LoginRequest) {
    let sealed = state.secrets.seal(
        SEAL_PURPOSE,
        &serde_json::to_vec(request).expect("a sign-in serializes"),
    );
    let max_age = (request.expires_at - request.created_at).max(0) / 1000;
    set(
        response,
        format!(
            "{}={sealed}; Path=/; HttpOnly; SameSite=None; Secure; Max-Age={max_age}",
            pending_name(state, &request.id)
        ),
    );
}

/// The pending sign-in with this AuthnRequest ID that this browser holds, if it is one we
/// sealed, for that ID, and not expired.
pub fn pending(state: &AppState, headers: &HeaderMap, request_id: &str) -> Option<LoginRequest> {
    let sealed = cookie(headers, &pending_name(state, request_id))?;
    let bytes = state.secrets.open(SEAL_PURPOSE, sealed)?;
    let request: LoginRequest = serde_json::from_slice(&bytes).ok()?;
    (request.id == request_id && request.expires_at > lanyard_store::now_ms()).then_some(request)
}

/// Clears a pending sign-in's cookie once it is answered.
pub fn clear_pending(state: &AppState, response: &mut Response, request_id: &str) {
    set(
        response,
        format!(
            "{}=; Path=/; HttpOnly; SameSite=None; Secure; Max-Age=0",
            pending_name(state, request_id)
        ),
    );
}

/// The session secret the browser presents, if any.
pub fn session<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    cookie(headers, &name(state, "lanyard_session"))
}

/// Gives the browser its session.
pub fn set_session(state: &AppState, response: &mut Response, secret: &str, max_age_s: i64) {
    let secure = if secure(state) { "; Secure" } else { "" };
    set(
        response,
        format!(
            "{}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}",
            name(state, "lanyard_session")
        ),
    );
}
