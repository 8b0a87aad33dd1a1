use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use lanyard_store::{NewRole, Role, RolePatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::timestamp;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use crate::permissions::{self, EMPLOYEES_VIEW, ROLES_MANAGE};
use crate::state::AppState;
use crate::validate;

/// A role: a named set of permissions in one organization.
#[derive(Serialize, ToSchema)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> RoleView {
        RoleView {
            id: r.id,
            name: r.name,
            description: r.description,
            permissions: r.permissions,
            created_at: timestamp(r.created_at),
            updated_at: timestamp(r.updated_at),
        }
    }
}

/// Creates a role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// Unique in the organization, compared case-insensitively.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Names from: sso.provider.view|add|edit|delete, scim, employees.view|create|edit,
    /// roles.manage, tokens.manage, apps.manage, audit.view.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Changes a role; omitted fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Replaces the permissions.
    pub permissions: Option<Vec<String>>,
}

fn check_permissions(requested: &[String]) -> ApiResult<Vec<String>> {
    let unknown = permissions::unknown(requested);
    if !unknown.is_empty() {
        return Err(ApiError::invalid(format!(
            "unknown permission(s): {}; known ones are {}",
            unknown.join(", "),
            permissions::ALL.join(", ")
        )));
    }
    let set: BTreeSet<String> = requested.iter().cloned().collect();
    Ok(set.into_iter().collect())
}

fn check_name(name: &str) -> ApiResult<()> {
    validate::label("name", name, 64)?;
    validate::not_an_id("name", name)
}

/// Roles may be read by whoever manages them and by whoever sees employees (to assign them).
fn viewing_permission(who: &Principal) -> &'static str {
    match who {
        Principal::Member {
            permissions: held, ..
        } if permissions::holds(held, ROLES_MANAGE) => ROLES_MANAGE,
        _ => EMPLOYEES_VIEW,
    }
}

/// List an organization's roles (roles.manage or employees.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/roles", tag = "roles",
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 200, body = super::Page<RoleView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<super::Page<RoleView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "role.list", viewing_permission(&who))
        .await?;
    let roles = state.store.list_roles(&org.id).await?;
    Ok(Json(super::Page::whole(
        roles.into_iter().map(RoleView::from).collect(),
    )))
}

/// Create a role (roles.manage; only permissions the caller holds).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/roles", tag = "roles", request_body = CreateRole,
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 201, body = RoleView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Body(input): Body<CreateRole>,
) -> ApiResult<impl IntoResponse> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "role.create", ROLES_MANAGE)
        .await?;
    check_name(&input.name)?;
    validate::text("description", &input.description, 500)?;
    let permissions = check_permissions(&input.permissions)?;
    who.require_all(
        &state,
        &org,
        "role.create",
        &permissions.iter().cloned().collect(),
    )
    .await?;
    let mut audit = who.audit("role.create");
    audit.detail = serde_json::json!({ "name": input.name, "permissions": permissions });
    let role = state
        .store
        .create_role(
            &org.id,
            &NewRole {
                name: input.name,
                description: input.description,
                permissions,
            },
            &audit,
        )
        .await?;
    let location = format!("/api/v1/orgs/{}/roles/{}", org.id, role.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(RoleView::from(role)),
    ))
}

/// Get a role by id or name.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/roles/{role}", tag = "roles",
    params(("org" = String, Path, description = "Organization id or short name"), ("role" = String, Path, description = "Role id or name")),
    responses((status = 200, body = RoleView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path((org, role)): Path<(String, String)>,
) -> ApiResult<Json<RoleView>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "role.get", viewing_permission(&who))
        .await?;
    Ok(Json(state.store.get_role(&org.id, &role).await?.into()))
}

/// Change a role (roles.manage; only permissions the caller holds).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/roles/{role}", tag = "roles", request_body = UpdateRole,
    params(("org" = String, Path, description = "Organization id or short name"), ("role" = String, Path, description = "Role id or name")),
    responses((status = 200, body = RoleView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path((org, role)): Path<(String, String)>,
    Body(input): Body<UpdateRole>,
) -> ApiResult<Json<RoleView>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "role.update", ROLES_MANAGE)
        .await?;
    let current = state.store.get_role(&org.id, &role).await?;
    if let Some(name) = &input.name {
        check_name(name)?;
    }
    if let Some(d) = &input.description {
        validate::text("description", d, 500)?;
    }
    let permissions = input
        .permissions
        .as_deref()
        .map(check_permissions)
        .transpose()?;
    // What the role has, what it would get, and everything its holders hold must all be within
    // the caller's reach: changing a role acts on every user who holds it.
    let mut touched: BTreeSet<String> = current.permissions.iter().cloned().collect();
    touched.extend(permissions.iter().flatten().cloned());
    touched.extend(
        state
            .store
            .role_holders_permissions(&org.id, &current.id)
            .await?,
    );
    who.require_all(&state, &org, "role.update", &touched)
        .await?;
    let mut audit = who.audit("role.update");
    audit.target = Some(current.id.clone());
    audit.detail = serde_json::json!({ "name": input.name, "permissions": permissions });
    let patch = RolePatch {
        name: input.name,
        description: input.description,
        permissions,
    };
    Ok(Json(
        state
            .store
            .update_role(&org.id, &current.id, &patch, &audit)
            .await?
            .into(),
    ))
}

/// Delete a role that no user holds (roles.manage).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/roles/{role}", tag = "roles",
    params(("org" = String, Path, description = "Organization id or short name"), ("role" = String, Path, description = "Role id or name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path((org, role)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "role.delete", ROLES_MANAGE)
        .await?;
    let current = state.store.get_role(&org.id, &role).await?;
    who.require_all(
        &state,
        &org,
        "role.delete",
        &current.permissions.iter().cloned().collect(),
    )
    .await?;
    let mut audit = who.audit("role.delete");
    audit.target = Some(current.id.clone());
    audit.detail = serde_json::json!({ "name": current.name });
    state
        .store
        .delete_role(&org.id, &current.id, &audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
