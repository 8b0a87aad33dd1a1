//! The JSON admin API under `/api/v1`, with its OpenAPI 3.1 document generated from these
//! handlers' annotations.

mod access_keys;
mod audit;
mod events;
mod invitations;
mod oauth_clients;
mod orgs;
mod roles;
mod scim_extensions;
mod scim_tokens;
mod sign_in_failures;
mod sp_keys;
mod sso_connections;
pub(crate) mod sso_fields;
mod users;

use axum::extract::FromRef;
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::scim;
use crate::state::AppState;

pub use orgs::OrgView;

/// What the command line needs of the organization endpoints.
pub mod orgs_cli {
    pub use super::orgs::create_from_cli as create;
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lanyard admin API",
        description = "Organizations, roles, users, service accounts and their access keys, and the audit log. \
                       Authenticate with `Authorization: Bearer <operator key>` (every organization) or \
                       `Bearer <access key id>.<secret>` (one organization, with its service account's permissions)."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// What the admin API's handlers reach: the shared state, and SCIM's caches (to forget the
/// tokens and extension schemas the API changes).
#[derive(Clone)]
pub struct ApiState {
    pub app: AppState,
    pub scim: scim::Caches,
}

impl FromRef<ApiState> for AppState {
    fn from_ref(state: &ApiState) -> AppState {
        state.app.clone()
    }
}

impl FromRef<ApiState> for scim::Caches {
    fn from_ref(state: &ApiState) -> scim::Caches {
        state.scim.clone()
    }
}

/// The API routes (without state) and the OpenAPI document describing them.
pub fn router() -> (Router<ApiState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(orgs::list, orgs::create))
        .routes(routes!(orgs::get, orgs::update, orgs::delete))
        .routes(routes!(roles::list, roles::create))
        .routes(routes!(roles::get, roles::update, roles::delete))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::claims))
        .routes(routes!(
            access_keys::list_accounts,
            access_keys::create_account
        ))
        .routes(routes!(access_keys::list, access_keys::create))
        .routes(routes!(access_keys::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(events::list))
        .routes(routes!(scim_tokens::list, scim_tokens::create))
        .routes(routes!(scim_tokens::revoke))
        .routes(routes!(scim_extensions::list))
        .routes(routes!(
            scim_extensions::get,
            scim_extensions::put,
            scim_extensions::delete
        ))
        .routes(routes!(sso_connections::list, sso_connections::create))
        .routes(routes!(
            sso_connections::get,
            sso_connections::update,
            sso_connections::delete
        ))
        .routes(routes!(sp_keys::list))
        .routes(routes!(sign_in_failures::list))
        .routes(routes!(sp_keys::rotate))
        .routes(routes!(oauth_clients::list, oauth_clients::create))
        .routes(routes!(oauth_clients::get, oauth_clients::revoke))
        .routes(routes!(oauth_clients::rotate_secret))
        .routes(routes!(invitations::create))
        .routes(routes!(invitations::list_consents))
        .routes(routes!(invitations::revoke_consent))
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    (router, doc)
}

/// Paging of list calls.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
}

/// One page of a list.
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items there are across all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T> Page<T> {
    /// A list that is never long enough to page (an organization's roles, clients, tokens…),
    /// in the one shape every list answers in.
    pub fn whole(items: Vec<T>) -> Page<T> {
        let total = items.len() as i64;
        Page {
            items,
            total,
            limit: total,
            offset: 0,
        }
    }
}

/// A 201 response carrying a secret shown once: never cached, with the new resource's Location.
pub fn created_with_secret(location: &str, body: impl Serialize) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    response
}

/// RFC 3339 text of a stored time (unix milliseconds), as admins read it.
pub fn timestamp(ms: i64) -> String {
    lanyard_store::rfc3339(ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(super::timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::timestamp(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
