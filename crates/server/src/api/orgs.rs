use crate::extract::Params;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use lanyard_store::{NewOrganization, OrgSettings, Organization, OrganizationPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{timestamp, Page, PageQuery};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use crate::state::AppState;
use crate::{permissions, validate};

/// An organization (tenant).
#[derive(Serialize, ToSchema)]
pub struct OrgView {
    pub id: String,
    pub short_name: String,
    pub display_name: String,
    /// Shown to admins; unique in the deployment.
    pub business_unit_id: i64,
    /// E-mail domains whose users sign in through this organization.
    pub domains: Vec<String>,
    pub settings: SettingsView,
    pub created_at: String,
    pub updated_at: String,
}

/// Organization settings.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsView {
    /// The role given to every provisioned user.
    pub default_provisioning_role: String,
    /// Whether a first SAML sign-in may create the user.
    pub jit_provisioning: bool,
    /// Whether sign-in must go through the organization's SSO connection: only holders of
    /// the `Admin` role may still use a password (break-glass).
    pub enforce_sso: bool,
}

impl From<Organization> for OrgView {
    fn from(o: Organization) -> OrgView {
        OrgView {
            id: o.id,
            short_name: o.short_name,
            display_name: o.display_name,
            business_unit_id: o.business_unit_id,
            domains: o.domains,
            settings: SettingsView {
                default_provisioning_role: o.settings.default_provisioning_role,
                jit_provisioning: o.settings.jit_provisioning,
                enforce_sso: o.settings.enforce_sso,
            },
            created_at: timestamp(o.created_at),
            updated_at: timestamp(o.updated_at),
        }
    }
}

/// Settings as given in a request; omitted fields keep their value (or default).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub default_provisioning_role: Option<String>,
    pub jit_provisioning: Option<bool>,
    pub enforce_sso: Option<bool>,
}

/// Creates an organization.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// Lowercase letters, digits and hyphens, 2–63 characters; unique.
    pub short_name: String,
    pub display_name: String,
    /// Picked at random (seven digits) when omitted.
    pub business_unit_id: Option<i64>,
    #[serde(default)]
    pub domains: Vec<String>,
    pub settings: Option<SettingsInput>,
}

/// Changes an organization; omitted fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    pub display_name: Option<String>,
    /// Replaces the claimed domains.
    pub domains: Option<Vec<String>>,
    pub settings: Option<SettingsInput>,
}

fn merge_settings(base: OrgSettings, input: Option<SettingsInput>) -> ApiResult<OrgSettings> {
    let Some(input) = input else { return Ok(base) };
    let settings = OrgSettings {
        default_provisioning_role: input
            .default_provisioning_role
            .unwrap_or(base.default_provisioning_role),
        jit_provisioning: input.jit_provisioning.unwrap_or(base.jit_provisioning),
        enforce_sso: input.enforce_sso.unwrap_or(base.enforce_sso),
    };
    validate::label(
        "settings.default_provisioning_role",
        &settings.default_provisioning_role,
        64,
    )?;
    Ok(settings)
}

fn check_domains(domains: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(domains.len());
    for d in domains {
        validate::domain(d)?;
        if !out.contains(d) {
            out.push(d.clone());
        }
    }
    Ok(out)
}

/// List organizations (an operator sees all; an access key sees its own).
#[utoipa::path(get, path = "/api/v1/orgs", tag = "organizations", params(PageQuery),
    responses((status = 200, body = Page<OrgView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Params(q): Params<PageQuery>,
) -> ApiResult<Json<Page<OrgView>>> {
    let (limit, offset) = validate::page(q.limit, q.offset)?;
    let (items, total) = match &who {
        Principal::Operator { .. } => {
            let page = state.store.list_orgs(limit, offset).await?;
            (page.items, page.total)
        }
        Principal::Member { org_id, .. } => {
            let own = state.store.get_org(org_id).await?;
            (if offset == 0 { vec![own] } else { vec![] }, 1)
        }
    };
    Ok(Json(Page {
        items: items.into_iter().map(OrgView::from).collect(),
        total,
        limit,
        offset,
    }))
}

/// Create an organization with the roles `Admin` and `Agent` (operator only).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "organizations", request_body = CreateOrg,
    responses((status = 201, body = OrgView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Body(input): Body<CreateOrg>,
) -> ApiResult<impl IntoResponse> {
    who.require_operator(&state, "org.create").await?;
    let org = create_org(&state.store, &who.actor(), input).await?;
    let location = format!("/api/v1/orgs/{}", org.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(OrgView::from(org)),
    ))
}

/// Validates and creates an organization; shared by the API and the CLI.
pub async fn create_org(
    store: &lanyard_store::Store,
    actor: &str,
    input: CreateOrg,
) -> ApiResult<Organization> {
    validate::short_name(&input.short_name)?;
    validate::label("display_name", &input.display_name, 200)?;
    if input.business_unit_id.is_some_and(|id| id <= 0) {
        return Err(ApiError::invalid(
            "business_unit_id must be a positive number",
        ));
    }
    let new = NewOrganization {
        short_name: input.short_name,
        display_name: input.display_name,
        business_unit_id: input.business_unit_id,
        domains: check_domains(&input.domains)?,
        settings: merge_settings(OrgSettings::default(), input.settings)?,
        default_roles: permissions::default_roles(),
    };
    let mut audit = lanyard_store::AuditEvent::success(actor, "org.create");
    audit.detail = serde_json::json!({ "short_name": new.short_name });
    Ok(store.create_org(&new, &audit).await?)
}

/// Get one organization by id or short name.
#[utoipa::path(get, path = "/api/v1/orgs/{org}", tag = "organizations",
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 200, body = OrgView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<OrgView>> {
    Ok(Json(who.org(&state, &org).await?.into()))
}

/// Change an organization's display name, domains or settings (operator only).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}", tag = "organizations", request_body = UpdateOrg,
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 200, body = OrgView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Body(input): Body<UpdateOrg>,
) -> ApiResult<Json<OrgView>> {
    let org = who.org(&state, &org).await?;
    who.require_operator(&state, "org.update").await?;
    if let Some(name) = &input.display_name {
        validate::label("display_name", name, 200)?;
    }
    let patch = OrganizationPatch {
        display_name: input.display_name,
        domains: input.domains.as_deref().map(check_domains).transpose()?,
        settings: match input.settings {
            Some(s) => Some(merge_settings(org.settings.clone(), Some(s))?),
            None => None,
        },
    };
    let mut audit = who.audit("org.update");
    audit.target = Some(org.id.clone());
    Ok(Json(
        state
            .store
            .update_org(&org.id, &patch, &audit)
            .await?
            .into(),
    ))
}

/// Delete an organization and everything it owns (operator only).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}", tag = "organizations",
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    let org = who.org(&state, &org).await?;
    who.require_operator(&state, "org.delete").await?;
    let mut audit = who.audit("org.delete");
    audit.target = Some(org.id.clone());
    audit.detail = serde_json::json!({ "short_name": org.short_name });
    state.store.delete_org(&org.id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `lanyard org create`: the same rules as the API, audited as the command line.
pub async fn create_from_cli(
    store: &lanyard_store::Store,
    short_name: &str,
    display_name: &str,
    domains: &[String],
    business_unit_id: Option<i64>,
) -> ApiResult<Organization> {
    let input = CreateOrg {
        short_name: short_name.to_string(),
        display_name: display_name.to_string(),
        business_unit_id,
        domains: domains.to_vec(),
        settings: None,
    };
    create_org(store, "cli", input).await
}
