//! Lanyard's own sign-in, identifier first. `/auth/authorize` shows the page asking for an
//! e-mail address (filled from `login_hint`); `/auth/login` then sends the browser to the
//! organization's IdP, or — for an organization without SSO, or a user who chooses it — shows
//! the password page; `/auth/login/password` checks the password.
//!
//! Every step carries the pending sign-in's id, which only the browser holding its sealed
//! cookie can use (so a step cannot be posted from another site). Failures read the same for an
//! unknown user, a user without a password and a wrong password, and take as long (a stand-in
//! hash is checked); attempts are limited per account and per client address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use lanyard_store::{GrantRefusal, Organization, SsoConnection};
use serde::Deserialize;

use super::consent::finish;
use super::cookies;
use super::page::{
    alert, auto_post, error_page, escape, form_page, say, say_strong, store_failure,
};
use super::step::{self, open_step, refuse_to_client, Step};
use super::{see_other, OidcState, SESSION_TTL_MS};
use crate::limits::{address_key, KeyedLimit};
use crate::secrets::random_token;
use crate::state::AppState;

/// Password attempts allowed: per account (10 at once, then 5 a minute) and per client address
/// (30 at once, then 20 a minute).
#[derive(Clone)]
pub struct LoginLimits {
    account: KeyedLimit,
    address: KeyedLimit,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            account: KeyedLimit::per_minute(5, 10),
            address: KeyedLimit::per_minute(20, 30),
        }
    }
}

/// The first page: the e-mail address, and with SSO the choice of a password instead.
pub fn identifier_page(
    state: &AppState,
    org: &Organization,
    form_nonce: &str,
    email: Option<&str>,
    sso: Option<&SsoConnection>,
) -> Response {
    let alternative = if sso.is_some() {
        format!(
            "<p><button type=\"submit\" name=\"method\" value=\"password\">{}</button></p>",
            say("signin-use-password", &[])
        )
    } else {
        String::new()
    };
    let go = match sso {
        Some(c) => format!(
            "{logo}{label}",
            logo = provider_logo(c),
            label = say("signin-continue-with", &[("provider", c.name.clone())])
        ),
        None => say("signin-continue", &[]),
    };
    let inner = format!(
        "<p>{intro}</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"request\" value=\"{id}\">\
         <p><label for=\"email\">{label}</label><br>\
         <input id=\"email\" name=\"email\" type=\"text\" inputmode=\"email\" autocomplete=\"username\" required maxlength=\"320\" value=\"{email}\" autofocus></p>\
         <p><button type=\"submit\" name=\"method\" value=\"{first}\">{go}</button></p>{alternative}</form>",
        intro = say_strong("signin-to", &[("org", org.display_name.clone())], &["org"]),
        label = say("signin-email", &[]),
        action = escape(&state.public_url.join("/auth/login")),
        id = escape(form_nonce),
        email = escape(email.unwrap_or("")),
        first = if sso.is_some() { "sso" } else { "password" },
    );
    form_page(StatusCode::OK, "signin-title", &inner)
}

/// The provider's logo as an image (an SVG shown through `<img>` runs nothing and fetches
/// nothing), sanitized again on the way out; empty without one.
fn provider_logo(connection: &SsoConnection) -> String {
    use base64::Engine;
    let Some(svg) = connection
        .logo_svg
        .as_deref()
        .and_then(|stored| crate::svg::sanitize(stored).ok())
    else {
        return String::new();
    };
    format!(
        "<img alt=\"\" width=\"20\" height=\"20\" src=\"data:image/svg+xml;base64,{}\"> ",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

/// The password page, with `error` above the form when an attempt failed.
fn password_page(
    state: &AppState,
    step: &Step,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let error = alert(error);
    let inner = format!(
        "<p>{intro}</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"request\" value=\"{id}\">\
         <input type=\"hidden\" name=\"email\" value=\"{email}\">\
         <p><label for=\"password\">{label}</label><br>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"256\" autofocus></p>\
         <p><button type=\"submit\">{go}</button></p></form>",
        intro = say_strong(
            "signin-to-as",
            &[("org", step.org.display_name.clone()), ("email", email.to_string())],
            &["org"],
        ),
        label = say("signin-password", &[]),
        go = say("signin-submit", &[]),
        email = escape(email),
        action = escape(&state.public_url.join("/auth/login/password")),
        id = escape(&step.pending.form_nonce),
    );
    form_page(status, "signin-title", &inner)
}

#[derive(Debug, Deserialize)]
pub struct IdentifierForm {
    request: String,
    email: String,
    method: Option<String>,
}

fn usable_identifier(email: &str) -> Option<&str> {
    let email = email.trim();
    (!email.is_empty() && super::clean(email, 320)).then_some(email)
}

/// `/auth/login`: the e-mail address given; on to the IdP, or to the password page.
pub async fn identifier(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<IdentifierForm>,
) -> Response {
    let step = match open_step(&state, &headers, &form.request).await {
        Ok(step) => step,
        Err(page) => return page,
    };
    let connections = match state.store.list_sso_connections(&step.org.id).await {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let Some(email) = usable_identifier(&form.email) else {
        return identifier_page(
            &state,
            &step.org,
            &step.pending.form_nonce,
            None,
            connections.iter().find(|c| c.enabled),
        );
    };
    // The organization's oldest connection that is turned on.
    let connection = connections.iter().find(|c| c.enabled);
    match (form.method.as_deref(), connection) {
        (Some("password"), _) | (_, None) => {
            password_page(&state, &step, email, None, StatusCode::OK)
        }
        (_, Some(connection)) => to_identity_provider(&state, &headers, step, connection).await,
    }
}

/// Sends the browser to the IdP of `connection` with an AuthnRequest answering the pending
/// sign-in, which from now on names the connection; signed with the connection's SP key when
/// it `sign_requests` (over the query string by HTTP-Redirect, enveloped by HTTP-POST).
async fn to_identity_provider(
    state: &AppState,
    headers: &HeaderMap,
    step: Step,
    connection: &SsoConnection,
) -> Response {
    let now = lanyard_store::now_ms();
    let mut step = step;
    step.pending.connection_id = connection.id.clone();
    let pending = &step.pending;
    let acs_url = state.public_url.acs();
    let sp_entity_id = state.public_url.audience_of(connection);
    let authn_request = lanyard_saml::requests::AuthnRequest {
        id: &pending.id,
        issue_instant: now,
        destination: &connection.sso_url,
        sp_entity_id: &sp_entity_id,
        acs_url: &acs_url,
        name_id_format: None,
        force_authn: pending.auth_not_before.is_some(),
    };
    let keys = if connection.sign_requests {
        match crate::sp_keys::keys_of(state, connection).await {
            Ok(keys) => Some(keys),
            Err(e) => {
                return error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "signin-unavailable",
                    &format!("SP keys of connection {}: {e:#}", connection.id),
                )
            }
        }
    } else {
        None
    };
    let key = keys.as_ref().map(|k| &k.signing);
    let xml = authn_request.to_xml();
    let mut response = if connection.endpoint_compression {
        let url = lanyard_saml::bindings::redirect_url(
            &connection.sso_url,
            lanyard_saml::bindings::Kind::Request,
            &xml,
            None,
            key,
        );
        see_other(&url)
    } else {
        let xml = match key.map(|k| lanyard_saml::dsig::sign_enveloped(&xml, k)) {
            None => xml,
            Some(Ok(signed)) => signed,
            Some(Err(e)) => {
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "signin-unavailable",
                    &format!("signing the AuthnRequest: {e}"),
                )
            }
        };
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
        auto_post(&connection.sso_url, &[("SAMLRequest", &encoded)])
    };
    if !step::keep(state, headers, &mut response, &step) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "signin-too-large",
            "pending sign-in too large for its cookie",
        );
    }
    response
}

#[derive(Deserialize)]
pub struct PasswordForm {
    request: String,
    email: String,
    password: String,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordForm")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

const WRONG: &str = "signin-wrong-password";

/// Too many password checks are waiting: the attempt is not counted as a failure.
fn busy() -> Response {
    let mut response = error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "signin-busy",
        "no turn for a password check within its wait",
    );
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    response
}

/// The password page saying the attempt was over the limit.
fn too_many(state: &AppState, step: &Step, email: &str, seconds: u64) -> Response {
    let message = crate::i18n::t_with("signin-too-many", &[("seconds", seconds.to_string())]);
    password_page(
        state,
        step,
        email,
        Some(&message),
        StatusCode::TOO_MANY_REQUESTS,
    )
}

/// `/auth/login/password`: checks the password, opens a session and finishes the sign-in.
pub async fn password(
    State(oidc): State<OidcState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<PasswordForm>,
) -> Response {
    let state = &oidc.app;
    let step = match open_step(state, &headers, &form.request).await {
        Ok(step) => step,
        Err(page) => return page,
    };
    let Some(email) = usable_identifier(&form.email) else {
        return password_page(state, &step, "", Some(WRONG), StatusCode::UNAUTHORIZED);
    };
    let address = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| address_key(c.0.ip()));
    let account = format!("{} {}", step.org.id, email.to_lowercase());
    let limited = oidc
        .logins
        .address
        .check(&address)
        .and_then(|()| oidc.logins.account.check(&account));
    if let Err(seconds) = limited {
        return too_many(state, &step, email, seconds);
    }
    let holder = match state.store.password_holder(&step.org.id, email).await {
        Ok(holder) => holder,
        Err(e) => return store_failure(&e),
    };
    // A user reached by their userName and by each e-mail address shares one budget too.
    if let Some(holder) = &holder {
        if let Err(seconds) = oidc
            .logins
            .account
            .check(&format!("user {}", holder.user_id))
        {
            return too_many(state, &step, email, seconds);
        }
    }
    let hash = holder.as_ref().and_then(|h| h.password_hash.clone());
    let password = form.password;
    let verified = crate::secrets::password_work(move || {
        crate::secrets::verify_password(&password, hash.as_deref())
    })
    .await;
    let Some(verified) = verified else {
        return busy();
    };
    let Some(holder) = holder.filter(|_| verified) else {
        return password_page(state, &step, email, Some(WRONG), StatusCode::UNAUTHORIZED);
    };
    // The password was right: from here the answers may say more.
    if !holder.active {
        return error_page(
            StatusCode::FORBIDDEN,
            "signin-deactivated",
            &format!("user {} is deactivated", holder.user_id),
        );
    }
    if step.org.settings.enforce_sso && !holder.admin {
        return password_page(
            state,
            &step,
            email,
            Some("signin-sso-only"),
            StatusCode::FORBIDDEN,
        );
    }
    if let Err(why) = super::request::admits(&step.client, &holder.user_id, holder.is_service()) {
        return refuse_to_client(state, &step, "access_denied", why);
    }
    let secret = random_token("lys_", 32);
    let now = lanyard_store::now_ms();
    let expires_at = now + SESSION_TTL_MS;
    let session = match state
        .store
        .open_password_session(
            &step.org.id,
            &holder.user_id,
            &state.secrets.hash_secret(&secret),
            expires_at,
        )
        .await
    {
        Ok(Ok(session)) => session,
        Ok(Err(GrantRefusal::UserInactive)) | Ok(Err(GrantRefusal::Invalid)) => {
            return error_page(
                StatusCode::FORBIDDEN,
                "signin-cannot",
                "session refused at opening",
            )
        }
        Err(e) => return store_failure(&e),
    };
    let mut response = finish(state, &headers, step, &session).await;
    cookies::set_session(state, &mut response, &secret, SESSION_TTL_MS / 1000);
    response
}
