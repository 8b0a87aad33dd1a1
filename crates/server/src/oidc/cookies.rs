//! The two cookies of a sign-in: the pending sign-in (sealed, one per sign-in in flight) and
//! the session. On an https deployment both carry the `__Host-` prefix, so no sibling
//! subdomain can plant one (which would defeat the pending sign-in's tie to its browser, or fix
//! a session); browsers refuse that prefix over plain http, where the names go without it.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use lanyard_store::LoginRequest;

use super::cookie;
use crate::state::AppState;

/// Sealed pending sign-ins open only for this purpose at this deployment's address: a copy
/// of the deployment sharing the master key (a staging copy, say) cannot use them.
fn seal_purpose(state: &AppState) -> String {
    format!("pending-sign-in {}", state.public_url)
}

/// Pending sign-ins a browser keeps besides the one being started: older ones are expired, so
/// no page can pile up cookies until requests get too large to be served.
const KEEP_PENDING: usize = 2;

/// Largest sealed value set: browsers drop a cookie past 4,096 bytes with its name.
const MAX_SEALED: usize = 3_800;

/// A pending sign-in as sealed: the redirect URI as its index among the client's (clients'
/// redirect URIs do not change), so the cookie stays small.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    request: LoginRequest,
    redirect_index: usize,
}

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

/// Gives the browser its pending sign-in, sealed under the master key, and expires all but
/// the newest [`KEEP_PENDING`] of those it already holds. The IdP posts the Response
/// cross-site, which only a `SameSite=None` cookie survives; such a cookie must be Secure,
/// which browsers also grant to http://localhost. `Err` when the request is too large to fit
/// in a cookie.
pub fn set_pending(
    state: &AppState,
    headers: &HeaderMap,
    response: &mut Response,
    request: &LoginRequest,
    redirect_index: usize,
) -> Result<(), ()> {
    let sealed = Sealed {
        request: LoginRequest {
            redirect_uri: String::new(),
            ..request.clone()
        },
        redirect_index,
    };
    let sealed = state.secrets.seal(
        &seal_purpose(state),
        &serde_json::to_vec(&sealed).expect("a sign-in serializes"),
    );
    if sealed.len() > MAX_SEALED {
        return Err(());
    }
    let prefix = name(state, "lanyard_login");
    let mut held: Vec<(i64, String)> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| {
            let created = open(state, v).map_or(i64::MIN, |s| s.request.created_at);
            (created, k.to_string())
        })
        .collect();
    held.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
    for (_, old) in held.iter().skip(KEEP_PENDING) {
        expire(response, old);
    }
    let max_age = (request.expires_at - request.created_at).max(0) / 1000;
    set(
        response,
        format!(
            "{}={sealed}; Path=/; HttpOnly; SameSite=None; Secure; Max-Age={max_age}",
            pending_name(state, &request.id)
        ),
    );
    Ok(())
}

fn open(state: &AppState, sealed: &str) -> Option<Sealed> {
    let bytes = state.secrets.open(&seal_purpose(state), sealed)?;
    serde_json::from_slice(&bytes).ok()
}

fn expire(response: &mut Response, name: &str) {
    set(
        response,
        format!("{name}=; Path=/; HttpOnly; SameSite=None; Secure; Max-Age=0"),
    );
}

/// The pending sign-in with this AuthnRequest ID that this browser holds, if it is one we
/// sealed, for that ID, and not expired; with the index of its redirect URI among the
/// client's.
pub fn pending(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &str,
) -> Option<(LoginRequest, usize)> {
    let sealed = open(state, cookie(headers, &pending_name(state, request_id))?)?;
    let live =
        sealed.request.id == request_id && sealed.request.expires_at > lanyard_store::now_ms();
    live.then_some((sealed.request, sealed.redirect_index))
}

/// Clears a pending sign-in's cookie once it is answered, or refused.
pub fn clear_pending(state: &AppState, response: &mut Response, request_id: &str) {
    expire(response, &pending_name(state, request_id));
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
