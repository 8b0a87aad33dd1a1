//! The SCIM 2.0 service provider under `/scim/v2` (RFC 7643, RFC 7644): Users, Groups, search,
//! Bulk and discovery. Protocol rules live in `lanyard_scim`; storage and filter compilation in
//! the store; this module composes them and speaks HTTP.

mod bulk;
mod credential;
mod discovery;
mod error;
mod extensions;
pub mod provision;
mod resources;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{any, get, post};
use axum::Router;

pub use credential::ScimLimits;
pub use error::{ScimError, SCIM_JSON};
pub use extensions::ExtensionCache;

use crate::state::AppState;

/// What the SCIM handlers reach: the shared state, and SCIM's own rate limits and caches.
#[derive(Clone)]
pub struct ScimState {
    pub app: AppState,
    /// Per-credential request rate limits.
    pub limits: ScimLimits,
    pub caches: Caches,
}

impl ScimState {
    pub fn new(app: AppState, limits: ScimLimits) -> ScimState {
        ScimState {
            app,
            limits,
            caches: Caches::default(),
        }
    }
}

/// SCIM's caches. The admin API holds them too, to forget at once what it changes.
#[derive(Clone, Default)]
pub struct Caches {
    /// Organizations' SCIM extension schemas, briefly cached.
    pub extensions: Arc<ExtensionCache>,
}

/// Most operations in one Bulk request (advertised in `/ServiceProviderConfig`).
pub const MAX_BULK_OPERATIONS: usize = 1000;

/// The routes under `/scim/v2`.
pub fn router() -> Router<ScimState> {
    Router::new()
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::one_resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::one_schema))
        .merge(resources::routes(resources::USERS))
        .merge(resources::routes(resources::GROUPS))
        .route("/.search", post(resources::search_all))
        .route("/Bulk", post(bulk::bulk))
        .route("/Me", any(me))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// `/Me` (RFC 7644 §3.11) is not offered: provisioning credentials act on an organization's
/// users, not as one of them.
async fn me(_caller: credential::ScimCaller) -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        "/Me is not available: provisioning credentials act on the organization's users, not as one",
    )
}

async fn not_found() -> ScimError {
    ScimError::not_found(
        "no such SCIM endpoint; the endpoints are /Users, /Groups, /Bulk, /.search, \
         /ServiceProviderConfig, /ResourceTypes and /Schemas",
    )
}

async fn method_not_allowed() -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this SCIM endpoint does not take that method",
    )
}
