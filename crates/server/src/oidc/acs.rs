//! The SAML Assertion Consumer Service, `POST /saml`.
//!
//! A Response answering a pending sign-in (SP-initiated) is verified against that sign-in's
//! connection only, and must come from the browser that started it; the code goes back to the
//! client. A Response answering nothing (IdP-initiated, from the IdP's app tile) is accepted
//! only by a connection that allows it: its unverified Issuer — narrowed by the unverified
//! `OrganizationName` attribute when there is one — must name exactly one connection, whose
//! certificates alone are tried; the browser then goes to the organization's default app
//! (OIDC third-party-initiated login), which starts an ordinary sign-in that the new session
//! answers. Either way, one transaction spends the request and the assertion, checks the user
//! is active, and opens the session.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use lanyard_saml::certs::Certificate;
use lanyard_saml::response::{self, Expected, Hints, Identity};
use lanyard_store::{Answer, GrantRefusal, SignIn, SsoConnection, StoreError};
use serde::Deserialize;

use super::authorize::{store_failure, success};
use super::page::{error_page, notice};
use super::{acs_url, cookies, see_other, with_query, CODE_TTL_MS, SESSION_TTL_MS};
use crate::secrets::random_token;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    _relay_state: Option<String>,
}

/// The SAML attributes that carry an e-mail address, in the order they are tried after the
/// NameID: the plain names Okta and generic IdPs use, Entra ID's claim URI, LDAP's `mail`.
const EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "Email",
    "emailAddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "mail",
];

/// The addresses a verified identity may be found by: the NameID if it is one, then the
/// e-mail attributes.
fn identity_emails(identity: &Identity) -> Vec<String> {
    let mut out = Vec::new();
    if identity.name_id.contains('@') {
        out.push(identity.name_id.clone());
    }
    for name in EMAIL_ATTRIBUTES {
        for value in identity.attribute(name).unwrap_or(&[]) {
            if value.contains('@') && !out.contains(value) {
                out.push(value.clone());
            }
        }
    }
    out
}

fn refused(message: &str, detail: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, message, detail)
}

/// The one connection a Response no request asked for can be checked against, from its
/// unverified Issuer and `OrganizationName`; an error page when there is none or several.
async fn unsolicited_connection(
    state: &AppState,
    hints: &Hints,
) -> Result<SsoConnection, Response> {
    let not_started_here = "Sign-in must start from the app for this organization: open the app and sign in from there.";
    let Some(issuer) = hints
        .assertion_issuer
        .as_ref()
        .or(hints.response_issuer.as_ref())
    else {
        return Err(refused(
            not_started_here,
            "unsolicited Response without an Issuer",
        ));
    };
    let mut candidates = state
        .store
        .sso_connections_for_issuer(issuer)
        .await
        .map_err(|e| store_failure(&e))?;
    if let Some(name) = &hints.organization_name {
        // Short names are lower-case; IdPs send what admins typed.
        let org = state.store.get_org(&name.trim().to_lowercase()).await.ok();
        candidates.retain(|c| org.as_ref().is_some_and(|o| o.id == c.org_id));
    }
    match <[SsoConnection; 1]>::try_from(candidates) {
        Ok([connection]) if connection.allow_idp_initiated => Ok(connection),
        Ok([connection]) => Err(refused(
            not_started_here,
            &format!(
                "connection {} does not accept IdP-initiated sign-in",
                connection.id
            ),
        )),
        Err(found) => Err(refused(
            not_started_here,
            &format!(
                "unsolicited Response from {issuer:?} (OrganizationName {:?}) fits {} connections",
                hints.organization_name,
                found.len()
            ),
        )),
    }
}

pub async fn acs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AcsForm>,
) -> Response {
    let Some(encoded) = form.saml_response.as_deref() else {
        return refused(
            "The identity provider's message carries no SAMLResponse.",
            "SAMLResponse missing",
        );
    };
    let limits = lanyard_saml::xml::Limits::default();
    let bytes = match response::decode_post(encoded, limits) {
        Ok(b) => b,
        Err(e) => {
            return refused(
                "The identity provider's SAMLResponse could not be decoded.",
                &e.to_string(),
            )
        }
    };
    let hints = match response::peek(&bytes, limits) {
        Ok(h) => h,
        Err(e) => {
            return refused(
                "The identity provider's SAMLResponse is not a readable SAML Response.",
                &e.to_string(),
            )
        }
    };

    // Which connection's certificates to try, and what the Response must answer.
    let (pending, connection) = match hints.in_response_to.as_deref() {
        Some(request_id) => {
            // Only the browser that started the sign-in holds it (no login CSRF).
            let Some(pending) = cookies::pending(&state, &headers, request_id) else {
                return refused(
                    "This sign-in has expired, or was started in another browser, or the browser did not keep its cookie. Start again from the app in this browser.",
                    &format!("request {request_id:?}: no live pending sign-in in this browser"),
                );
            };
            let connection = match state
                .store
                .get_sso_connection(&pending.org_id, &pending.connection_id)
                .await
            {
                Ok(c) => c,
                Err(StoreError::NotFound) => {
                    return refused(
                        "The SSO connection this sign-in went through was removed. Start again from the app.",
                        &format!("connection {} is gone", pending.connection_id),
                    )
                }
                Err(e) => return store_failure(&e),
            };
            (Some(pending), connection)
        }
        None => match unsolicited_connection(&state, &hints).await {
            Ok(connection) => (None, connection),
            Err(page) => return page,
        },
    };

    let certificates: Vec<Certificate> = connection
        .certificates
        .iter()
        .filter_map(|c| Certificate::parse(c.as_bytes()).ok())
        .collect();
    let acs_url = acs_url(&state);
    let expected = response::Connection {
        sp_entity_id: &connection.sp_entity_id,
        acs_url: &acs_url,
        idp_issuer: &connection.idp_entity_id,
        certificates: &certificates,
        policy: Default::default(),
        allow_idp_initiated: pending.is_none(),
        allow_expired_certificate: false,
        clock_skew_ms: response::DEFAULT_CLOCK_SKEW_MS,
        limits,
        decryption_keys: &[],
    };
    let answering = match &pending {
        Some(p) => Expected::Request(&p.id),
        None => Expected::Unsolicited,
    };
    let now = lanyard_store::now_ms();
    let identity = match response::validate(&bytes, &expected, answering, now) {
        Ok(identity) => identity,
        Err(e) => {
            return refused(
                "The identity provider's response could not be verified. An admin can look up the reason with the reference below.",
                &format!("connection {} ({}): {e}", connection.id, connection.name),
            )
        }
    };
    if let Some(t) = pending.as_ref().and_then(|p| p.auth_not_before) {
        if identity.authn_instant < t {
            return error_page(
                StatusCode::FORBIDDEN,
                "The app asked for a fresh sign-in, but the identity provider reused an earlier one. Sign in again; an admin may need to let the identity provider honour forced re-authentication.",
                &format!(
                    "connection {}: AuthnInstant {} is before the required {t}",
                    connection.id, identity.authn_instant
                ),
            );
        }
    }
    // A signed OrganizationName must name the organization whose certificates verified it.
    if let Some(named) = identity
        .attribute("OrganizationName")
        .and_then(|v| v.first())
    {
        let org = state.store.get_org(&connection.org_id).await;
        if !org.is_ok_and(|o| o.short_name.eq_ignore_ascii_case(named.trim())) {
            return refused(
                "The identity provider's response names another organization than the one it signs in to.",
                &format!("connection {}: OrganizationName {named:?}", connection.id),
            );
        }
    }

    let emails = identity_emails(&identity);
    let user_id = match state
        .store
        .find_user_for_sign_in(&connection.org_id, &emails)
        .await
    {
        Ok(Some(id)) => id,
        Ok(None) => return error_page(
            StatusCode::FORBIDDEN,
            "Your account was not found in this organization. Ask your admin to give you access.",
            &format!("no user with {emails:?} (NameID {:?})", identity.name_id),
        ),
        Err(e) => return store_failure(&e),
    };
    let session_secret = random_token("lys_", 32);
    let code = random_token("lyc_", 32);
    let session_hash = state.secrets.hash_secret(&session_secret);
    let code_hash = state.secrets.hash_secret(&code);
    let session_expires_at = identity
        .session_not_on_or_after
        .map_or(now + SESSION_TTL_MS, |t| t.min(now + SESSION_TTL_MS));
    let sign_in = SignIn {
        org_id: &connection.org_id,
        connection_id: &connection.id,
        assertion_id: &identity.assertion_id,
        assertion_expires_at: identity.not_on_or_after.max(now) + response::DEFAULT_CLOCK_SKEW_MS,
        session_hash: &session_hash,
        session_expires_at,
        answer: pending.as_ref().map(|request| Answer {
            request,
            code_hash: &code_hash,
            code_expires_at: now + CODE_TTL_MS,
        }),
    };
    let auth_time = identity.authn_instant.min(now);
    match state
        .store
        .complete_sign_in(&user_id, auth_time, &sign_in)
        .await
    {
        Ok(Ok(_session)) => {}
        Ok(Err(GrantRefusal::UserInactive)) => {
            return error_page(
                StatusCode::FORBIDDEN,
                "Your account is deactivated in this organization. Ask your admin to reactivate it.",
                &format!("user {user_id} is deactivated"),
            )
        }
        Ok(Err(GrantRefusal::Invalid)) => {
            return refused(
                "This sign-in was already completed, or the identity provider's response was used before. Start again from the app.",
                &format!("assertion {:?} or its request already spent", identity.assertion_id),
            )
        }
        Err(e) => return store_failure(&e),
    }

    let mut response = match &pending {
        Some(pending) => success(&pending.redirect_uri, &code, pending.state.as_deref()),
        None => match state.store.default_app_client(&connection.org_id).await {
            // OIDC Core §4: the app is asked to start a sign-in at this issuer, which the
            // session just opened answers.
            Ok(Some(app)) => see_other(&with_query(
                app.initiate_login_uri.as_deref().unwrap_or_default(),
                &[("iss", &state.public_url)],
            )),
            Ok(None) => notice(
                "Signed in",
                "You are signed in, but your organization has no app to open from the identity provider. Open the app directly, or ask your admin to set an app's initiate_login_uri.",
            ),
            Err(e) => return store_failure(&e),
        },
    };
    let max_age = (session_expires_at - now).max(0) / 1000;
    cookies::set_session(&state, &mut response, &session_secret, max_age);
    if let Some(pending) = &pending {
        cookies::clear_pending(&state, &mut response, &pending.id);
    }
    response
}
