use std::collections::BTreeSet;

use crate::extract::Params;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lanyard_store::{NewUser, Organization, User, UserKind, UserPatch, UserQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{timestamp, Page};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use crate::permissions::{EMPLOYEES_CREATE, EMPLOYEES_EDIT, EMPLOYEES_VIEW};
use crate::state::AppState;
use crate::{etag, secrets, validate};

/// A user of an organization: a person, or a service account (`kind: service`).
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    /// `human` or `service`.
    pub kind: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Extension attributes (a JSON object).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Whether a local sign-in password is set (the password itself is never shown).
    pub has_password: bool,
    /// Increases with every change; also sent as the ETag.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> UserView {
        UserView {
            id: u.id,
            user_name: u.user_name,
            email: u.email,
            given_name: u.given_name,
            family_name: u.family_name,
            display_name: u.display_name,
            active: u.active,
            external_id: u.external_id,
            kind: u.kind.as_str().to_string(),
            roles: u.roles.into_iter().map(|r| r.name).collect(),
            attributes: u.attributes,
            has_password: u.has_password,
            version: u.version,
            created_at: timestamp(u.created_at),
            updated_at: timestamp(u.updated_at),
        }
    }
}

/// Creates a user (or, at `/service-accounts`, a service account).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Unique in the organization, compared case-insensitively.
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    /// Default true.
    pub active: Option<bool>,
    pub external_id: Option<String>,
    /// Role names of this organization.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Extension attributes (a JSON object).
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// A local sign-in password (12–256 characters); people only.
    pub password: Option<String>,
}

/// Changes a user; omitted fields stay as they are, `null` clears an optional one.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub user_name: Option<String>,
    #[serde(default, deserialize_with = "crate::validate::present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::present")]
    #[schema(value_type = Option<String>)]
    pub given_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::present")]
    #[schema(value_type = Option<String>)]
    pub family_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::present")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// `false` deactivates: the user can no longer sign in and its access keys stop working.
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "crate::validate::present")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    /// Replaces the user's roles (names).
    pub roles: Option<Vec<String>>,
    /// Replaces the extension attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Sets (or with `null` removes) the local sign-in password.
    #[serde(default, deserialize_with = "crate::validate::present")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<String>>,
}

/// Which users to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
    /// `human` or `service`; both when omitted.
    #[param(value_type = Option<String>)]
    pub kind: Option<UserKind>,
    /// Only users whose user name, e-mail address or display name contains this text (any
    /// case).
    pub q: Option<String>,
}

fn check_optional(field: &str, value: Option<&str>, max: usize) -> ApiResult<()> {
    match value {
        Some(v) => validate::label(field, v, max),
        None => Ok(()),
    }
}

fn check_user_fields(
    user_name: Option<&str>,
    email: Option<&str>,
    names: [(&str, Option<&str>); 4],
) -> ApiResult<()> {
    if let Some(name) = user_name {
        validate::label("user_name", name, 256)?;
        if name.trim() != name {
            return Err(ApiError::invalid(
                "user_name must not start or end with spaces",
            ));
        }
    }
    if let Some(email) = email {
        validate::email(email)?;
    }
    for (field, value) in names {
        check_optional(field, value, 256)?;
    }
    Ok(())
}

/// Role names to ids in this organization, and the permissions they carry.
async fn resolve_roles(
    state: &AppState,
    org: &Organization,
    names: &[String],
) -> ApiResult<(Vec<String>, BTreeSet<String>)> {
    let mut ids = Vec::new();
    let mut perms = BTreeSet::new();
    for name in names {
        let role = state.store.find_role(&org.id, name).await?.ok_or_else(|| {
            ApiError::invalid(format!(
                "role {name:?} does not exist in this organization; create it first"
            ))
        })?;
        perms.extend(role.permissions);
        ids.push(role.id);
    }
    Ok((ids, perms))
}

async fn hash_password(password: String) -> ApiResult<String> {
    validate::password(&password)?;
    secrets::password_work(move || secrets::hash_password(&password))
        .await
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many passwords are being checked right now; try again in a few seconds",
            )
        })?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })
}

/// The response for one user, with its version as a weak ETag.
pub fn user_response(status: StatusCode, user: User) -> Response {
    let etag = etag::header_value(user.version);
    let mut response = (status, Json(UserView::from(user))).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The version an `If-Match` header asks for; `None` when absent or `*`.
fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    etag::if_match(headers).map_err(|etag::ForeignTag| {
        ApiError::bad_request("If-Match must be an ETag this API sent, such as W/\"3\"")
    })
}

/// The user `id` of `org`, provided the caller holds every permission that user has.
pub async fn reachable_user(
    state: &AppState,
    who: &Principal,
    org: &Organization,
    id: &str,
    action: &str,
) -> ApiResult<User> {
    let user = state.store.get_user(&org.id, id).await?;
    let held = state.store.user_permissions(&org.id, &user.id).await?;
    who.require_all(state, org, action, &held).await?;
    Ok(user)
}

/// Creates a user of `kind` after the checks shared by users and service accounts.
pub async fn create_user(
    state: &AppState,
    who: &Principal,
    org: &Organization,
    input: CreateUser,
    kind: UserKind,
) -> ApiResult<User> {
    let action = match kind {
        UserKind::Human => "user.create",
        UserKind::Service => "service_account.create",
    };
    who.require(state, org, action, EMPLOYEES_CREATE).await?;
    check_user_fields(
        Some(&input.user_name),
        input.email.as_deref(),
        [
            ("given_name", input.given_name.as_deref()),
            ("family_name", input.family_name.as_deref()),
            ("display_name", input.display_name.as_deref()),
            ("external_id", input.external_id.as_deref()),
        ],
    )?;
    if kind == UserKind::Service && input.password.is_some() {
        return Err(ApiError::invalid(
            "service accounts authenticate with access keys, not passwords",
        ));
    }
    let (role_ids, granted) = resolve_roles(state, org, &input.roles).await?;
    who.require_all(state, org, action, &granted).await?;
    let password_hash = match input.password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let mut audit = who.audit(action);
    audit.detail = serde_json::json!({ "user_name": input.user_name, "roles": input.roles });
    let new = NewUser {
        user_name: input.user_name,
        email: input.email,
        given_name: input.given_name,
        family_name: input.family_name,
        display_name: input.display_name,
        active: input.active.unwrap_or(true),
        external_id: input.external_id,
        kind,
        role_ids,
        attributes: input.attributes.unwrap_or_default(),
        password_hash,
    };
    Ok(state.store.create_user(&org.id, &new, &audit).await?)
}

/// Lists users of `kind` (or all) a page at a time.
pub async fn list_users(
    state: &AppState,
    who: &Principal,
    org: &str,
    q: UserListQuery,
) -> ApiResult<Json<Page<UserView>>> {
    let org = who.org(state, org).await?;
    who.require(state, &org, "user.list", EMPLOYEES_VIEW)
        .await?;
    let (limit, offset) = validate::page(q.limit, q.offset)?;
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 256) {
        return Err(ApiError::invalid("q is at most 256 characters"));
    }
    let page = state
        .store
        .list_users(
            &org.id,
            &UserQuery {
                kind: q.kind,
                search: q.q.filter(|s| !s.trim().is_empty()),
                limit,
                offset,
            },
        )
        .await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(UserView::from).collect(),
        total: page.total,
        limit,
        offset,
    }))
}

/// List users, ordered by user name (employees.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/users", tag = "users",
    params(("org" = String, Path, description = "Organization id or short name"), UserListQuery),
    responses((status = 200, body = Page<UserView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Params(q): Params<UserListQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    list_users(&state, &who, &org, q).await
}

/// Create a user (employees.create; roles only within the caller's own permissions).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/users", tag = "users", request_body = CreateUser,
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 201, body = UserView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Body(input): Body<CreateUser>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    let user = create_user(&state, &who, &org, input, UserKind::Human).await?;
    let location = format!("/api/v1/orgs/{}/users/{}", org.id, user.id);
    let mut response = user_response(StatusCode::CREATED, user);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Get a user (employees.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/users/{user}", tag = "users",
    params(("org" = String, Path, description = "Organization id or short name"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "user.get", EMPLOYEES_VIEW)
        .await?;
    Ok(user_response(
        StatusCode::OK,
        state.store.get_user(&org.id, &user).await?,
    ))
}

/// What signing in would give a user now.
#[derive(Serialize, ToSchema)]
pub struct ClaimsPreview {
    /// Whether the user may sign in now.
    pub can_sign_in: bool,
    /// Why not, when not.
    pub reason: Option<String>,
    /// The claims of the ID token the user would get: `sub`, `email`, `name`, `org`, `roles`,
    /// `groups` and the claims the organization's extension attributes name.
    #[schema(value_type = Object)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Preview a user's ID-token claims (employees.view): check a custom attribute mapping before
/// anyone signs in with it.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/users/{user}/claims", tag = "users",
    params(("org" = String, Path, description = "Organization id or short name"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = ClaimsPreview), (status = 404, body = ErrorBody)))]
pub async fn claims(
    State(state): State<AppState>,
    who: Principal,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<Json<ClaimsPreview>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "user.claims", EMPLOYEES_VIEW)
        .await?;
    let user = state.store.get_user(&org.id, &user).await?;
    let claims = crate::claims::for_user(&state.store, &org, &user).await?;
    let reason = crate::claims::sign_in_refusal(&user);
    Ok(Json(ClaimsPreview {
        can_sign_in: reason.is_none(),
        reason: reason.map(str::to_string),
        claims,
    }))
}

/// Change a user (employees.edit). Honours `If-Match` with the ETag of a previous read.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/users/{user}", tag = "users", request_body = UpdateUser,
    params(("org" = String, Path, description = "Organization id or short name"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path((org, user)): Path<(String, String)>,
    headers: HeaderMap,
    Body(input): Body<UpdateUser>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "user.update", EMPLOYEES_EDIT)
        .await?;
    let expected = if_match(&headers)?;
    let current = reachable_user(&state, &who, &org, &user, "user.update").await?;
    let flat = |v: &Option<Option<String>>| v.clone().flatten();
    check_user_fields(
        input.user_name.as_deref(),
        flat(&input.email).as_deref(),
        [
            ("given_name", flat(&input.given_name).as_deref()),
            ("family_name", flat(&input.family_name).as_deref()),
            ("display_name", flat(&input.display_name).as_deref()),
            ("external_id", flat(&input.external_id).as_deref()),
        ],
    )?;
    let role_ids = match &input.roles {
        Some(names) => {
            let (ids, granted) = resolve_roles(&state, &org, names).await?;
            who.require_all(&state, &org, "user.update", &granted)
                .await?;
            Some(ids)
        }
        None => None,
    };
    let password_hash = match input.password {
        Some(Some(_)) if current.kind == UserKind::Service => {
            return Err(ApiError::invalid(
                "service accounts authenticate with access keys, not passwords",
            ));
        }
        Some(Some(p)) => Some(Some(hash_password(p).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let mut audit = who.audit("user.update");
    audit.target = Some(current.id.clone());
    let changed: Vec<&str> = [
        ("user_name", input.user_name.is_some()),
        ("email", input.email.is_some()),
        ("given_name", input.given_name.is_some()),
        ("family_name", input.family_name.is_some()),
        ("display_name", input.display_name.is_some()),
        ("active", input.active.is_some()),
        ("external_id", input.external_id.is_some()),
        ("roles", input.roles.is_some()),
        ("attributes", input.attributes.is_some()),
        ("password", password_hash.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    audit.detail =
        serde_json::json!({ "changed": changed, "active": input.active, "roles": input.roles });
    let patch = UserPatch {
        user_name: input.user_name,
        email: input.email,
        given_name: input.given_name,
        family_name: input.family_name,
        display_name: input.display_name,
        active: input.active,
        external_id: input.external_id,
        role_ids,
        attributes: input.attributes,
        password_hash,
    };
    // Without If-Match, the write is still bound to the version whose permissions were checked
    // above, so a user promoted meanwhile is not edited on the strength of the old check.
    let expected = expected.or(Some(current.version));
    let updated = state
        .store
        .update_user(&org.id, &current.id, &patch, expected, &audit)
        .await?;
    Ok(user_response(StatusCode::OK, updated))
}

/// Delete a user and its access keys (employees.edit).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/users/{user}", tag = "users",
    params(("org" = String, Path, description = "Organization id or short name"), ("user" = String, Path, description = "User id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "user.delete", EMPLOYEES_EDIT)
        .await?;
    let current = reachable_user(&state, &who, &org, &user, "user.delete").await?;
    let mut audit = who.audit("user.delete");
    audit.target = Some(current.id.clone());
    audit.detail = serde_json::json!({ "user_name": current.user_name });
    state
        .store
        .delete_user(&org.id, &current.id, &audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
