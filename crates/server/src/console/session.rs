//! Signing in to the console and out of it. A user signs in through Lanyard's own sign-in
//! (password, or SSO through the organization's IdP) as the console's OAuth client of their
//! organization, with PKCE; the code is redeemed in-process and opens a console session tied to
//! the sign-in session. The operator pastes an operator key once. Before sign-in, forms carry a
//! double-submit token (a cookie and a field); after, the session's CSRF token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lanyard_store::{
    console_client_id, AuditEvent, ConsoleHolder, GrantRefusal, Outcome, TokenDraft,
};
use minijinja::value::Value;
use serde::{Deserialize, Serialize};

use super::render::{self, check_csrf, page, public_page, Console};
use super::{ConsoleState, ABSOLUTE_MS, IDLE_MS};
use crate::auth::{self, Principal};
use crate::extract::cookie;
use crate::i18n::{Locale, LANG_COOKIE};
use crate::limits::{address_key, KeyedLimit};
use crate::oidc::pkce_matches;
use crate::permissions;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::urls::{see_other, with_query};

/// A sign-in in flight stays this long.
const SIGN_IN_MS: i64 = 10 * 60 * 1000;

/// Sign-in attempts allowed: starts per client address (each looks an organization up), and
/// wrong operator keys per client address and in all (each writes an audit row).
#[derive(Clone)]
pub struct SignInLimits {
    start: KeyedLimit,
    wrong_keys: KeyedLimit,
    wrong_key_rows: KeyedLimit,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            start: KeyedLimit::per_minute(20, 40),
            wrong_keys: KeyedLimit::per_minute(5, 10),
            wrong_key_rows: KeyedLimit::per_minute(60, 120),
        }
    }
}

fn client_address(extensions: &Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| address_key(c.0.ip()))
}

/// The sign-in page saying to wait `seconds`.
fn too_many(state: &AppState, headers: &HeaderMap, seconds: u64) -> Response {
    let mut response = login_form(state, headers, Some("login-too-many"));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Records a console sign-in, or an operator key refused (whose actor is the client address).
async fn audit_sign_in(app: &AppState, actor: &str, org_id: Option<&str>, outcome: Outcome) {
    let action = match outcome {
        Outcome::Success => "console.signed_in",
        _ => "console.sign_in_failed",
    };
    let mut event = AuditEvent::success(actor, action);
    event.org_id = org_id.map(str::to_string);
    event.outcome = outcome;
    if let Err(e) = app.store.append_audit(&event).await {
        tracing::error!(error = %e, "console: could not audit a sign-in");
    }
}

fn cookie_name(state: &AppState, base: &str) -> String {
    if state.public_url.is_https() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

fn set_cookie(state: &AppState, response: &mut Response, base: &str, value: &str, max_age: i64) {
    let secure = if state.public_url.is_https() {
        "; Secure"
    } else {
        ""
    };
    let line = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        cookie_name(state, base)
    );
    if let Ok(v) = HeaderValue::from_str(&line) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, v);
    }
}

const SESSION: &str = "lanyard_console";
const SIGN_IN: &str = "lanyard_console_sign_in";
const PRE: &str = "lanyard_console_form";

/// The console session behind the request's cookie, resolved to the person and their
/// permissions (read afresh at every request); otherwise the way to the sign-in page.
pub async fn signed_in(
    state: &ConsoleState,
    headers: &HeaderMap,
    here: String,
) -> Result<Console, Response> {
    let app = &state.app;
    let to_login = || see_other("/admin/login");
    let secret = cookie(headers, &cookie_name(app, SESSION)).ok_or_else(to_login)?;
    let found = app
        .store
        .console_session(&app.secrets.hash_secret(secret), IDLE_MS)
        .await
        .map_err(|e| unavailable(headers, &e))?;
    let session = found.ok_or_else(to_login)?;
    let locale = cookie(headers, LANG_COOKIE)
        .and_then(Locale::parse)
        .or_else(|| Locale::parse(&session.locale))
        .unwrap_or(Locale::En);
    let org = match &session.org_id {
        Some(id) => app
            .store
            .find_org(id)
            .await
            .map_err(|e| unavailable(headers, &e))?,
        None => None,
    };
    let (who, permissions, name) = match (&session.operator_key_id, &session.user_id, &org) {
        (Some(key_id), _, _) => (
            Principal::Operator {
                key_id: key_id.clone(),
            },
            permissions::ALL.iter().map(|p| p.to_string()).collect(),
            locale.text("operator", &[]),
        ),
        (None, Some(user_id), Some(org)) => {
            let user = app
                .store
                .find_user(&org.id, user_id)
                .await
                .map_err(|e| unavailable(headers, &e))?
                .ok_or_else(to_login)?;
            let held = app
                .store
                .user_permissions(&org.id, user_id)
                .await
                .map_err(|e| unavailable(headers, &e))?;
            let name = user.display_name.clone().unwrap_or(user.user_name.clone());
            let who = Principal::Member {
                actor: format!("user:{user_id}"),
                org_id: org.id.clone(),
                permissions: held.clone(),
            };
            (who, held, name)
        }
        _ => return Err(to_login()),
    };
    Ok(Console {
        session,
        who,
        permissions,
        org,
        name,
        locale,
        here,
    })
}

fn unavailable(headers: &HeaderMap, e: &lanyard_store::StoreError) -> Response {
    tracing::error!(error = %e, "console: the store failed");
    let locale = Locale::of_request(headers);
    let mut response = public_page(locale, "unavailable.html", vec![]);
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        HeaderValue::from_static("5"),
    );
    response
}

pub async fn root() -> Response {
    see_other("/admin")
}

/// The sign-in page, with an error key to show, if any.
fn login_form(state: &AppState, headers: &HeaderMap, error: Option<&str>) -> Response {
    let locale = Locale::of_request(headers);
    let token = cookie(headers, &cookie_name(state, PRE))
        .filter(|t| t.len() >= 32)
        .map_or_else(|| random_token("", 24), str::to_string);
    let error = error.map(|key| locale.text(key, &[]));
    let mut response = public_page(
        locale,
        "login.html",
        vec![
            ("csrf", Value::from(token.clone())),
            ("error", Value::from(error)),
        ],
    );
    set_cookie(state, &mut response, PRE, &token, 3600);
    response
}

#[derive(Deserialize)]
pub struct LoginQuery {
    error: Option<String>,
}

pub async fn login_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let error = q
        .error
        .as_deref()
        .filter(|e| ["login-failed", "login-expired"].contains(e));
    login_form(&state.app, &headers, error)
}

/// A console sign-in in flight, sealed into a cookie of the browser that started it.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    org_id: String,
    expires_at: i64,
}

fn seal_purpose(state: &AppState) -> String {
    format!("console-sign-in {}", state.public_url)
}

fn callback_uri(state: &AppState) -> String {
    state.public_url.join("/admin/callback")
}

#[derive(Deserialize)]
pub struct StartQuery {
    org: String,
}

/// Starts a sign-in for an organization named by its short name, or by a work e-mail address
/// (its domain names the organization, and the address fills the sign-in page).
pub async fn start(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    extensions: Extensions,
    Query(q): Query<StartQuery>,
) -> Response {
    let app = &state.app;
    if let Err(seconds) = state.limits.start.check(&client_address(&extensions)) {
        return too_many(app, &headers, seconds);
    }
    let asked = q.org.trim();
    let (found, hint) = match asked.rsplit_once('@') {
        Some((_, domain)) if asked.len() <= 320 => (
            app.store
                .find_org_by_domain(&domain.to_ascii_lowercase())
                .await,
            Some(asked),
        ),
        _ if asked.len() <= 200 => (app.store.find_org(asked).await, None),
        _ => (Ok(None), None),
    };
    let org = match found {
        Ok(Some(org)) => org,
        Ok(None) => return login_form(app, &headers, Some("login-no-org")),
        Err(e) => return unavailable(&headers, &e),
    };
    let client = match app.store.console_client(&org.id, &callback_uri(app)).await {
        Ok(c) => c,
        Err(e) => return unavailable(&headers, &e),
    };
    let pending = Pending {
        state: random_token("", 24),
        verifier: random_token("", 32),
        org_id: org.id,
        expires_at: lanyard_store::now_ms() + SIGN_IN_MS,
    };
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        pending.verifier.as_bytes(),
    ));
    let locale = Locale::of_request(&headers);
    let callback = callback_uri(app);
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", callback.as_str()),
        ("scope", "openid"),
        ("state", pending.state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("ui_locales", locale.tag()),
    ];
    if let Some(hint) = hint {
        params.push(("login_hint", hint));
    }
    let mut response = see_other(&with_query(
        &app.public_url.join("/auth/authorize"),
        &params,
    ));
    let sealed = app.secrets.seal(
        &seal_purpose(app),
        &serde_json::to_vec(&pending).expect("a sign-in serializes"),
    );
    set_cookie(app, &mut response, SIGN_IN, &sealed, SIGN_IN_MS / 1000);
    response
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The end of a console sign-in: the code redeemed in-process, a console session opened.
pub async fn callback(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let app = &state.app;
    let pending: Option<Pending> = cookie(&headers, &cookie_name(app, SIGN_IN))
        .and_then(|sealed| app.secrets.open(&seal_purpose(app), sealed))
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let now = lanyard_store::now_ms();
    let Some(pending) = pending.filter(|p| p.expires_at > now) else {
        return see_other("/admin/login?error=login-expired");
    };
    let state_ok = q.state.as_deref().is_some_and(|s| {
        aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), pending.state.as_bytes())
            .is_ok()
    });
    let (Some(code), true, None) = (q.code.as_deref(), state_ok, q.error.as_deref()) else {
        return see_other("/admin/login?error=login-failed");
    };
    let callback = callback_uri(app);
    let check = |c: &lanyard_store::AuthCode| {
        c.redirect_uri == callback
            && c.code_challenge
                .as_deref()
                .is_some_and(|ch| pkce_matches(&pending.verifier, ch))
    };
    // The console holds no OAuth tokens: the ones a redemption stores are born expired.
    let spent = || TokenDraft {
        token_hash: app.secrets.hash_secret(&random_token("", 32)),
        expires_at: now,
    };
    let redeemed = app
        .store
        .redeem_code(
            &app.secrets.hash_secret(code),
            &console_client_id(&pending.org_id),
            check,
            &spent(),
            &spent(),
        )
        .await;
    let code = match redeemed {
        Ok(Ok((code, _))) => code,
        Ok(Err(GrantRefusal::Invalid | GrantRefusal::UserInactive)) => {
            return see_other("/admin/login?error=login-failed")
        }
        Err(e) => return unavailable(&headers, &e),
    };
    let Some(session_id) = code.session_id else {
        return see_other("/admin/login?error=login-failed");
    };
    let holder = ConsoleHolder::SignIn {
        session_id: &session_id,
    };
    let mut response = open(app, &headers, holder, "/admin").await;
    if response.status() == StatusCode::SEE_OTHER {
        let actor = format!("user:{}", code.user_id);
        audit_sign_in(app, &actor, Some(&code.org_id), Outcome::Success).await;
    }
    set_cookie(app, &mut response, SIGN_IN, "", 0);
    response
}

/// Opens a console session and sends the browser to `to`.
async fn open(
    app: &AppState,
    headers: &HeaderMap,
    holder: ConsoleHolder<'_>,
    to: &str,
) -> Response {
    let secret = random_token("lyx_", 32);
    let csrf = random_token("", 24);
    let locale = Locale::of_request(headers);
    let hash = app.secrets.hash_secret(&secret);
    if let Err(e) = app
        .store
        .open_console_session(&hash, holder, &csrf, locale.tag(), ABSOLUTE_MS)
        .await
    {
        return unavailable(headers, &e);
    }
    let mut response = see_other(to);
    set_cookie(app, &mut response, SESSION, &secret, ABSOLUTE_MS / 1000);
    response
}

#[derive(Deserialize)]
pub struct OperatorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

fn pre_form_ok(app: &AppState, headers: &HeaderMap, token: &str) -> bool {
    cookie(headers, &cookie_name(app, PRE)).is_some_and(|c| {
        !token.is_empty()
            && aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), token.as_bytes())
                .is_ok()
    })
}

/// The operator's sign-in with an operator key.
pub async fn operator(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<OperatorForm>,
) -> Response {
    let app = &state.app;
    if !pre_form_ok(app, &headers, &form.csrf) {
        return login_form(app, &headers, Some("form-expired"));
    }
    // A right key always signs in, whatever the address has tried: clients behind one proxy
    // share an address, and a stranger's wrong keys must not lock the operator out. Keys are
    // 256 random bits, so the limit is not what stops guessing; it bounds the work and the
    // audit rows that wrong keys cause, per address and in all.
    match auth::operator(app, form.key.trim()).await {
        Ok(Principal::Operator { key_id }) => {
            let holder = ConsoleHolder::Operator { key_id: &key_id };
            let response = open(app, &headers, holder, "/admin/orgs").await;
            if response.status() == StatusCode::SEE_OTHER {
                let actor = format!("operator:{key_id}");
                audit_sign_in(app, &actor, None, Outcome::Success).await;
            }
            response
        }
        _ => {
            let address = client_address(&extensions);
            if let Err(seconds) = state.limits.wrong_keys.check(&address) {
                return too_many(app, &headers, seconds);
            }
            if state.limits.wrong_key_rows.check("all").is_ok() {
                let actor = format!("address:{address}");
                audit_sign_in(app, &actor, None, Outcome::Failure).await;
            }
            login_form(app, &headers, Some("login-bad-key"))
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<ConsoleState>,
    c: Console,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(page) = check_csrf(&c, &form.csrf) {
        return page;
    }
    if let Err(e) = state.app.store.end_console_session(&c.session.id).await {
        tracing::error!(error = %e, "console: sign-out failed");
    }
    let mut response = see_other("/admin/login");
    set_cookie(&state.app, &mut response, SESSION, "", 0);
    response
}

#[derive(Deserialize)]
pub struct LanguageForm {
    #[serde(default)]
    csrf: String,
    lang: String,
    #[serde(default)]
    back: String,
}

/// Switches the language, remembered in a cookie (and on the session, when signed in).
pub async fn language(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(form): Form<LanguageForm>,
) -> Response {
    let app = &state.app;
    let here = form.back.clone();
    let signed = signed_in(&state, &headers, here).await.ok();
    let allowed = match &signed {
        Some(c) => c.csrf_ok(&form.csrf),
        None => pre_form_ok(app, &headers, &form.csrf),
    };
    let Some(locale) = Locale::parse(&form.lang).filter(|_| allowed) else {
        return match signed {
            Some(c) => check_csrf(&c, "")
                .err()
                .unwrap_or_else(|| see_other("/admin")),
            None => login_form(app, &headers, Some("form-expired")),
        };
    };
    if let Some(c) = &signed {
        if let Err(e) = app
            .store
            .set_console_locale(&c.session.id, locale.tag())
            .await
        {
            return unavailable(&headers, &e);
        }
    }
    // Only a path inside the console: never somewhere else.
    let back = if form.back.starts_with("/admin") && !form.back.contains("//") {
        form.back.as_str()
    } else {
        "/admin"
    };
    let mut response = see_other(back);
    let line = format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        locale.tag()
    );
    if let Ok(v) = HeaderValue::from_str(&line) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, v);
    }
    response
}

/// The operator's list of organizations to work in.
pub async fn orgs(State(state): State<ConsoleState>, c: Console) -> Response {
    if !c.is_operator() {
        return render::forbidden(&c);
    }
    match state.get(&c, "/orgs?limit=200").await {
        Ok(list) => page(
            &c,
            "orgs.html",
            vec![("orgs", Value::from_serialize(&list["items"]))],
        ),
        Err(e) => render::failure(&c, e),
    }
}

#[derive(Deserialize)]
pub struct ChooseOrg {
    #[serde(default)]
    csrf: String,
    org: String,
}

pub async fn choose_org(
    State(state): State<ConsoleState>,
    c: Console,
    Form(form): Form<ChooseOrg>,
) -> Response {
    if let Err(page) = check_csrf(&c, &form.csrf) {
        return page;
    }
    if !c.is_operator() {
        return render::forbidden(&c);
    }
    match state.app.store.find_org(&form.org).await {
        Ok(Some(org)) => match state
            .app
            .store
            .set_console_org(&c.session.id, &org.id)
            .await
        {
            Ok(()) => see_other("/admin"),
            Err(e) => unavailable(&HeaderMap::new(), &e),
        },
        Ok(None) => see_other("/admin/orgs"),
        Err(e) => unavailable(&HeaderMap::new(), &e),
    }
}
