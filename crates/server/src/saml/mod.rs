//! SAML toward the organizations' IdPs: the Assertion Consumer Service (`POST /saml`), where
//! sign-ins started by the OIDC authorization endpoint come back, and each connection's SP
//! metadata (`GET /saml/{connection}`); and `lanyard saml verify`, which checks a Response
//! offline as the ACS would.

mod acs;
pub mod cli;
mod metadata;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// The routes under `/saml`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml", post(acs::acs))
        .route("/saml/{connection}", get(metadata::sp_metadata))
}
