//! The end of every sign-in, whichever way the user authenticated: an integration client (a
//! provisioning connector) gets the user's consent first, remembered per user and client until
//! revoked; an app is first-party and gets none. Then the code goes back to the client.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use lanyard_store::{AuthCode, Consent, OAuthClient, Session};
use serde::Deserialize;

use super::authorize::success;
use super::cookies;
use super::page::{error_page, escape, form_page, say, say_strong, store_failure};
use super::step::{open_step, refuse_to_client, Step};
use super::CODE_TTL_MS;
use crate::secrets::random_token;
use crate::state::AppState;

/// A marker on a response that keeps the pending sign-in's cookie: the consent page needs it
/// for the step after.
#[derive(Clone, Copy)]
pub struct KeepsPending;

/// Whether the user is still to consent to `client`: an integration asks once. Apps are
/// first-party, and an access key acts as the very service account that signs in through it
/// (its admin made it for that), so neither asks.
pub async fn needs_consent(
    state: &AppState,
    client: &OAuthClient,
    org_id: &str,
    user_id: &str,
) -> Result<bool, lanyard_store::StoreError> {
    if client.kind != "integration" || client.is_access_key() {
        return Ok(false);
    }
    Ok(state
        .store
        .consent(org_id, user_id, &client.id)
        .await?
        .is_none())
}

/// Finishes a sign-in from a live session: the consent page, or the code to the client.
pub async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    step: Step,
    session: &Session,
) -> Response {
    match needs_consent(state, &step.client, &step.org.id, &session.user_id).await {
        Ok(true) => consent_page(state, headers, step, session).await,
        Ok(false) => issue_code(state, step, session).await,
        Err(e) => store_failure(&e),
    }
}

/// The consent page for `step`'s client, keeping the pending sign-in for the answer, tied to
/// `session`: the answer counts only from it.
pub async fn consent_page(
    state: &AppState,
    headers: &HeaderMap,
    mut step: Step,
    session: &Session,
) -> Response {
    let user_id = &session.user_id;
    step.pending.consent_session = Some(session.id.clone());
    let who = match state.store.get_user(&step.org.id, user_id).await {
        Ok(user) => user.user_name,
        Err(e) => return store_failure(&e),
    };
    let inner = format!(
        "<p>{question}</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"request\" value=\"{id}\">\
         <p><button type=\"submit\" name=\"decision\" value=\"allow\">{allow}</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">{deny}</button></p></form>",
        question = say_strong(
            "consent-question",
            &[
                ("client", step.client.name.clone()),
                ("org", step.org.display_name.clone()),
                ("who", who),
            ],
            &["client", "org"],
        ),
        allow = say("consent-allow", &[]),
        deny = say("consent-deny", &[]),
        action = escape(&state.public_url.join("/auth/consent")),
        id = escape(&step.pending.form_nonce),
    );
    let mut response = form_page(StatusCode::OK, "consent-title", &inner);
    if !super::step::keep(state, headers, &mut response, &step) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "signin-too-large-consent",
            "pending sign-in too large for its cookie",
        );
    }
    response.extensions_mut().insert(KeepsPending);
    response
}

/// Issues a code to the step's client from `session`; `None` when the session's user may no
/// longer sign in or the client was revoked meanwhile.
pub async fn code_from_session(
    state: &AppState,
    step: &Step,
    session: &Session,
) -> Result<Option<String>, lanyard_store::StoreError> {
    let code = random_token("lyc_", 32);
    let pending = &step.pending;
    let draft = AuthCode {
        org_id: step.org.id.clone(),
        client_id: step.client.id.clone(),
        user_id: session.user_id.clone(),
        session_id: Some(session.id.clone()),
        redirect_uri: pending.redirect_uri.clone(),
        scope: pending.scope.clone(),
        nonce: pending.nonce.clone(),
        code_challenge: pending.code_challenge.clone(),
        auth_time: session.auth_time,
        expires_at: lanyard_store::now_ms() + CODE_TTL_MS,
        grant_id: uuid::Uuid::now_v7().to_string(),
        connection_id: session.connection_id.clone(),
    };
    let issued = state
        .store
        .issue_code(&state.secrets.hash_secret(&code), &draft)
        .await?;
    Ok(issued.ok().map(|()| code))
}

/// Issues the code from `session` and sends it to the client, ending the pending sign-in.
async fn issue_code(state: &AppState, step: Step, session: &Session) -> Response {
    match code_from_session(state, &step, session).await {
        Ok(Some(code)) => {
            let pending = &step.pending;
            let mut response = success(&pending.redirect_uri, &code, pending.state.as_deref());
            if let Some(slot) = step.slot {
                cookies::clear_pending(state, &mut response, slot);
            }
            response
        }
        Ok(None) => refuse_to_client(
            state,
            &step,
            "access_denied",
            "the user can no longer sign in, or the client was revoked",
        ),
        Err(e) => store_failure(&e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    request: String,
    decision: String,
}

/// `/auth/consent`: the user's answer, with the session of the sign-in it belongs to.
pub async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let step = match open_step(&state, &headers, &form.request).await {
        Ok(step) => step,
        Err(page) => return page,
    };
    let session = match cookies::session(&state, &headers) {
        Some(secret) => {
            state
                .store
                .session_by_hash(&state.secrets.hash_secret(secret))
                .await
        }
        None => Ok(None),
    };
    // The answer counts only from the session the question was asked in.
    let asked_in = step.pending.consent_session.as_deref();
    let session = match session {
        Ok(Some(s)) if s.org_id == step.org.id && asked_in == Some(s.id.as_str()) => s,
        Ok(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "consent-session-changed",
                "consent answer without the session it was asked in",
            )
        }
        Err(e) => return store_failure(&e),
    };
    let user = match state.store.get_user(&step.org.id, &session.user_id).await {
        Ok(user) => user,
        Err(e) => return store_failure(&e),
    };
    let is_service = user.kind == lanyard_store::UserKind::Service;
    if let Err(why) = super::request::admits(&step.client, &user.id, is_service) {
        return refuse_to_client(&state, &step, "access_denied", why);
    }
    if form.decision != "allow" {
        return refuse_to_client(&state, &step, "access_denied", "the user declined");
    }
    let consent = Consent {
        user_id: session.user_id.clone(),
        client_id: step.client.id.clone(),
        org_id: step.org.id.clone(),
        scope: step.pending.scope.clone(),
        created_at: 0,
    };
    if let Err(e) = state.store.remember_consent(&consent).await {
        return store_failure(&e);
    }
    issue_code(&state, step, &session).await
}
