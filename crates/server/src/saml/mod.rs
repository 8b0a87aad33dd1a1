//! SAML toward the organizations' IdPs: the Assertion Consumer Service (`POST /saml`), where
//! sign-ins started by the OIDC authorization endpoint come back, and each connection's SP
//! metadata (`GET /saml/{connection}`); and `lanyard saml verify`, which checks a Response
//! offline as the ACS would.

mod acs;
pub mod cli;
mod failures;
mod jit;
mod metadata;
mod unsolicited;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// What the SAML handlers reach: the shared state, and the budgets of failure records.
#[derive(Clone)]
pub struct SamlState {
    pub app: AppState,
    failures: failures::FailureLog,
}

impl SamlState {
    pub fn new(app: AppState) -> SamlState {
        SamlState {
            app,
            failures: failures::FailureLog::default(),
        }
    }
}

impl FromRef<SamlState> for AppState {
    fn from_ref(state: &SamlState) -> AppState {
        state.app.clone()
    }
}

/// The routes under `/saml`.
pub fn router() -> Router<SamlState> {
    Router::new()
        .route(
            "/saml",
            post(acs::acs).layer(DefaultBodyLimit::max(acs::MAX_BODY_BYTES)),
        )
        .route("/saml/{connection}", get(metadata::sp_metadata))
}
