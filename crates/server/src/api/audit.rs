use crate::extract::Params;
use axum::extract::{Path, State};
use axum::Json;
use lanyard_store::AuditRecord;
use serde::Serialize;
use utoipa::ToSchema;

use super::{timestamp, Page, PageQuery};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
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

/// An organization's audit log, newest first (audit.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit", tag = "audit",
    params(("org" = String, Path, description = "Organization id or short name"), PageQuery),
    responses((status = 200, body = Page<AuditView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Params(q): Params<PageQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "audit.list", AUDIT_VIEW).await?;
    let (limit, offset) = validate::page(q.limit, q.offset)?;
    let page = state.store.list_audit(&org.id, limit, offset).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(AuditView::from).collect(),
        total: page.total,
        limit,
        offset,
    }))
}
