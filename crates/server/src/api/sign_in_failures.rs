//! A connection's recent failed sign-ins through the admin API: what a support engineer asks
//! a customer's admin for — the error page's reference, the reason, the signature that failed,
//! and what the Response said of itself before anything was verified (issuer, destination,
//! audience, NameID). The reference on a user's error page finds its trace.

use axum::extract::{Path, Query, State};
use axum::Json;
use lanyard_store::AuditFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::timestamp;
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::permissions::{AUDIT_VIEW, SSO_VIEW};
use crate::state::AppState;

/// How many of the newest failures are searched for a reference.
const SEARCHED: i64 = 1000;

/// One failed sign-in through a connection.
#[derive(Serialize, ToSchema)]
pub struct SignInFailureView {
    /// The reference the user's error page showed (none on a row counting skipped ones).
    pub reference: Option<String>,
    pub time: String,
    pub reason: String,
    /// `Response` or `Assertion` when that signature's digest did not match, `unknown signer`
    /// when no configured certificate verified it.
    pub signature_failed: Option<String>,
    /// What the Response said of itself, not verified: `issuer`, `destination`, `audience`,
    /// `name_id`, `in_response_to`.
    #[schema(value_type = Object)]
    pub unverified: serde_json::Value,
}

#[derive(Deserialize, IntoParams)]
pub struct FailureQuery {
    /// The reference from an error page: only that failure.
    pub reference: Option<String>,
    /// At most this many, newest first (1–100, default 20).
    pub limit: Option<i64>,
}

/// A connection's recent failed sign-ins (sso.provider.view and audit.view: the traces name
/// people).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/sso-connections/{id}/sign-in-failures", tag = "sso connections",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "Connection id"), FailureQuery),
    responses((status = 200, body = super::Page<SignInFailureView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
    Query(query): Query<FailureQuery>,
) -> ApiResult<Json<super::Page<SignInFailureView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "sso_connection.failures", SSO_VIEW)
        .await?;
    who.require(&state, &org, "sso_connection.failures", AUDIT_VIEW)
        .await?;
    let connection = state.store.get_sso_connection(&org.id, &id).await?;
    let filter = AuditFilter {
        action: Some("sso.sign_in_failed".into()),
        target: Some(connection.id),
        ..AuditFilter::default()
    };
    let limit = query.limit.unwrap_or(20).clamp(1, 100);
    let searched = if query.reference.is_some() {
        SEARCHED
    } else {
        limit
    };
    let rows = state
        .store
        .list_audit(&org.id, &filter, searched, 0)
        .await?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let items: Vec<SignInFailureView> = rows
        .items
        .into_iter()
        .filter(|r| {
            query
                .reference
                .as_deref()
                .is_none_or(|wanted| r.detail["reference"] == wanted)
        })
        .take(limit as usize)
        .map(|r| SignInFailureView {
            reference: text(&r.detail["reference"]),
            time: timestamp(r.created_at),
            reason: text(&r.detail["reason"]).unwrap_or_default(),
            signature_failed: text(&r.detail["signature_failed"]),
            unverified: r.detail["unverified"].clone(),
        })
        .collect();
    Ok(Json(super::Page::whole(items)))
}
