use crate::extract::Params;
use axum::extract::{Path, State};
use axum::Json;
use lanyard_store::{AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{timestamp, Page};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::permissions::AUDIT_VIEW;
use crate::state::AppState;
use crate::validate;

/// One audited action.
#[derive(Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    /// `operator:<key id>`, `access_key:<key id>` or `cli`.
    pub actor: String,
    /// What was attempted, such as `user.create`.
    pub action: String,
    pub org_id: Option<String>,
    /// The id of the resource acted on.
    pub target: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: String,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> AuditView {
        AuditView {
            id: r.id,
            actor: r.actor,
            action: r.action,
            org_id: r.org_id,
            target: r.target,
            outcome: r.outcome,
            detail: r.detail,
            created_at: timestamp(r.created_at),
        }
    }
}

/// Which records to list; each given filter narrows the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
    /// Who acted, exactly as records name them: `user:<id>`, `access_key:<id>`,
    /// `scim_token:<id>`, `operator:<id>`.
    pub actor: Option<String>,
    /// An action (`user.update`), or every action under a prefix ending in `.` (`user.`).
    pub action: Option<String>,
    /// What was acted on (an id).
    pub target: Option<String>,
    /// Records from this time on (RFC 3339).
    pub since: Option<String>,
    /// Records before this time (RFC 3339).
    pub until: Option<String>,
}

fn time_param(name: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|_| {
                    ApiError::invalid(format!(
                        "{name} must be an RFC 3339 time such as 2026-12-01T00:00:00Z"
                    ))
                })
        })
        .transpose()
}

fn text_param(name: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) if v.len() > 200 || v.chars().any(char::is_control) => Err(ApiError::invalid(
            format!("{name} is at most 200 characters, without control characters"),
        )),
        other => Ok(other),
    }
}

/// An organization's audit log, newest first (audit.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit", tag = "audit",
    params(("org" = String, Path, description = "Organization id or short name"), AuditQuery),
    responses((status = 200, body = Page<AuditView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Params(q): Params<AuditQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "audit.list", AUDIT_VIEW).await?;
    let (limit, offset) = validate::page(q.limit, q.offset)?;
    let filter = AuditFilter {
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        actor: text_param("actor", q.actor)?,
        action: text_param("action", q.action)?,
        target: text_param("target", q.target)?,
    };
    let page = state
        .store
        .list_audit(&org.id, &filter, limit, offset)
        .await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(AuditView::from).collect(),
        total: page.total,
        limit,
        offset,
    }))
}
