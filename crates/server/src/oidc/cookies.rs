//! The cookies of a sign-in: pending sign-ins (sealed, in a few fixed slots) and the session.
//! On an https deployment both carry the `__Host-` prefix, so no sibling subdomain can plant
//! one (which would defeat the pending sign-in's tie to its browser, or fix a session);
//! browsers refuse that prefix over plain http, where the names go without it.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use lanyard_store::LoginRequest;

use crate::extract::cookie;
use crate::state::AppState;

/// A browser holds pending sign-ins in this many fixed cookie slots: a new one takes an empty
/// slot or the oldest one's. However many sign-ins a page starts, even all at once, the
/// cookies stay bounded (no cookie bomb), and no cookie name carries request text.
const SLOTS: usize = 3;

/// Largest sealed value set: browsers drop a cookie past 4,096 bytes with its name.
const MAX_SEALED: usize = 3_800;

/// Sealed pending sign-ins open only for this purpose at this deployment's address: a copy
/// of the deployment sharing the master key (a staging copy, say) cannot use them.
fn seal_purpose(state: &AppState) -> String {
    format!("pending-sign-in {}", state.public_url)
}

/// A pending sign-in as sealed: the redirect URI as its index among the client's (clients'
/// redirect URIs do not change), so the cookie stays small.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    request: LoginRequest,
    redirect_index: usize,
}

fn secure(state: &AppState) -> bool {
    state.public_url.is_https()
}

fn name(state: &AppState, base: &str) -> String {
    if secure(state) {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

fn slot_name(state: &AppState, slot: usize) -> String {
    name(state, &format!("lanyard_login{slot}"))
}

fn set(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn open(state: &AppState, sealed: &str) -> Option<Sealed> {
    let bytes = state.secrets.open(&seal_purpose(state), sealed)?;
    serde_json::from_slice(&bytes).ok()
}

/// The live pending sign-ins the browser holds, by slot.
fn held(state: &AppState, headers: &HeaderMap) -> Vec<(usize, Sealed)> {
    let now = lanyard_store::now_ms();
    (0..SLOTS)
        .filter_map(|slot| {
            let sealed = open(state, cookie(headers, &slot_name(state, slot))?)?;
            (sealed.request.expires_at > now).then_some((slot, sealed))
        })
        .collect()
}

/// Gives the browser its pending sign-in, sealed under the master key, in an empty slot or
/// the oldest one's. The IdP posts the Response cross-site, which only a `SameSite=None`
/// cookie survives; such a cookie must be Secure, which browsers also grant to
/// http://localhost. `Err` when the request is too large to fit in a cookie.
pub fn set_pending(
    state: &AppState,
    headers: &HeaderMap,
    response: &mut Response,
    request: &LoginRequest,
    redirect_index: usize,
) -> Result<(), ()> {
    let taken = held(state, headers);
    let slot = (0..SLOTS)
        .find(|slot| !taken.iter().any(|(s, _)| s == slot))
        .or_else(|| {
            taken
                .iter()
                .min_by_key(|(_, s)| s.request.created_at)
                .map(|(slot, _)| *slot)
        })
        .unwrap_or(0);
    replace_pending(state, response, request, redirect_index, slot)
}

/// Puts a pending sign-in in `slot` (where it was found: a step of the sign-in moved it on).
pub fn replace_pending(
    state: &AppState,
    response: &mut Response,
    request: &LoginRequest,
    redirect_index: usize,
    slot: usize,
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
    let max_age = (request.expires_at - lanyard_store::now_ms()).max(0) / 1000;
    set(
        response,
        format!(
            "{}={sealed}; Path=/; HttpOnly; SameSite=None; Secure; Max-Age={max_age}",
            slot_name(state, slot)
        ),
    );
    Ok(())
}

/// A pending sign-in found in the browser.
pub struct Held {
    pub request: LoginRequest,
    /// Its redirect URI's index among the client's.
    pub redirect_index: usize,
    /// The cookie slot holding it.
    pub slot: usize,
}

/// The pending sign-in with this AuthnRequest ID that this browser holds, if it is one we
/// sealed and not expired.
pub fn pending(state: &AppState, headers: &HeaderMap, request_id: &str) -> Option<Held> {
    held(state, headers)
        .into_iter()
        .find(|(_, s)| s.request.id == request_id)
        .map(|(slot, s)| Held {
            request: s.request,
            redirect_index: s.redirect_index,
            slot,
        })
}

/// The pending sign-in whose form nonce is `nonce` (what Lanyard's own forms carry) that this
/// browser holds, if it is one we sealed and not expired.
pub fn pending_for_form(state: &AppState, headers: &HeaderMap, nonce: &str) -> Option<Held> {
    if nonce.is_empty() {
        return None;
    }
    held(state, headers)
        .into_iter()
        .find(|(_, s)| {
            aws_lc_rs::constant_time::verify_slices_are_equal(
                s.request.form_nonce.as_bytes(),
                nonce.as_bytes(),
            )
            .is_ok()
        })
        .map(|(slot, s)| Held {
            request: s.request,
            redirect_index: s.redirect_index,
            slot,
        })
}

/// Clears a pending sign-in's slot once it is answered, or refused.
pub fn clear_pending(state: &AppState, response: &mut Response, slot: usize) {
    set(
        response,
        format!(
            "{}=; Path=/; HttpOnly; SameSite=None; Secure; Max-Age=0",
            slot_name(state, slot)
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
