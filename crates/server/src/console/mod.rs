//! The admin console at `/admin`: server-rendered pages for customers' IT admins and the
//! operator, in the four languages of `i18n`. Every change goes through the admin API,
//! called in-process as the signed-in person (`api_call.rs`), so the console checks, audits
//! and refuses exactly as the API does, with the same field names.
//!
//! Pages work without JavaScript; `console.js` only adds copy buttons and drag-and-drop.
//! Every form carries the session's CSRF token; every page carries a policy that allows no
//! inline script and no framing.

// A refusal here is the page to answer with, returned at once up a short call chain; boxing
// every `Response` would gain nothing.
#![allow(clippy::result_large_err)]

mod api_call;
mod assets;
mod audit;
mod docs;
mod employees;
mod forms;
mod home;
mod ids;
mod logo;
mod render;
mod roles;
mod session;
mod sso;
mod tokens;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;

pub use api_call::ApiFailure;
pub use render::Console;
pub use session::SignInLimits;

use crate::state::AppState;

/// What the console's handlers reach: the shared state, and the admin API's router, which
/// the console calls in-process.
#[derive(Clone)]
pub struct ConsoleState {
    pub app: AppState,
    pub api: Router,
    /// Sign-in attempts allowed per client address.
    pub limits: session::SignInLimits,
}

impl FromRef<ConsoleState> for AppState {
    fn from_ref(state: &ConsoleState) -> AppState {
        state.app.clone()
    }
}

/// A console session ends after this long without a request…
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// …and this long after sign-in, whatever happens.
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;

pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/", get(session::root))
        .route("/docs", get(docs::index))
        .route("/admin", get(home::home))
        .route("/admin/", get(home::home))
        .route("/admin/assets/{file}", get(assets::asset))
        .route("/admin/login", get(session::login_page))
        .route("/admin/login/start", get(session::start))
        .route("/admin/login/operator", post(session::operator))
        .route("/admin/callback", get(session::callback))
        .route("/admin/logout", post(session::logout))
        .route("/admin/language", post(session::language))
        .route("/admin/orgs", get(session::orgs).post(session::choose_org))
        .route("/admin/sso", get(sso::list).post(sso::create))
        .route("/admin/sso/import", post(sso::import))
        .route("/admin/sso/{id}", get(sso::show).post(sso::save))
        .route("/admin/sso/{id}/certificates", post(sso::add_certificate))
        .route(
            "/admin/sso/{id}/certificates/{fingerprint}/delete",
            post(sso::remove_certificate),
        )
        .route("/admin/sso/{id}/delete", post(sso::delete))
        .route("/admin/sso/{id}/logo.svg", get(logo::serve))
        .route(
            "/admin/scim-tokens",
            get(tokens::scim_list).post(tokens::scim_create),
        )
        .route("/admin/scim-tokens/{id}/revoke", post(tokens::scim_revoke))
        .route(
            "/admin/apps",
            get(tokens::apps_list).post(tokens::apps_create),
        )
        .route("/admin/apps/{id}/rotate", post(tokens::apps_rotate))
        .route("/admin/apps/{id}/revoke", post(tokens::apps_revoke))
        .route("/admin/roles", get(roles::list).post(roles::create))
        .route("/admin/roles/{id}", post(roles::save))
        .route(
            "/admin/employees",
            get(employees::list).post(employees::create),
        )
        .route(
            "/admin/employees/{id}",
            get(employees::show).post(employees::save),
        )
        .route("/admin/employees/{id}/security", get(employees::security))
        .route(
            "/admin/employees/{id}/access-keys",
            post(employees::add_key),
        )
        .route(
            "/admin/employees/{id}/access-keys/{key}/delete",
            post(employees::delete_key),
        )
        .route("/admin/employees/{id}/invitation", post(employees::invite))
        .route("/admin/audit", get(audit::list))
        .route("/admin/{*rest}", get(render::not_found))
}
