//! Service accounts (users of kind `service`) and their access keys. A key's id and secret are
//! shown once, at creation; only the secret's hash is kept.

use crate::extract::{OptionalBody, Params};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use lanyard_store::{AccessKey, NewAccessKey, Organization, User, UserKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::{
    create_user, list_users, reachable_user, user_response, CreateUser, UserListQuery, UserView,
};
use super::{timestamp, Page};
use crate::auth::{Principal, ACCESS_KEY_PREFIX};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::permissions::TOKENS_MANAGE;
use crate::secrets::{random_id, random_token};
use crate::state::AppState;
use crate::validate;

/// An access key, without its secret.
#[derive(Serialize, ToSchema)]
pub struct AccessKeyView {
    pub access_key_id: String,
    /// The service account (user id) the key acts as.
    pub user_id: String,
    /// Where the key, acting as an OAuth client (client_id = access_key_id, client_secret =
    /// its secret), may send authorization codes.
    pub redirect_uris: Vec<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<AccessKey> for AccessKeyView {
    fn from(k: AccessKey) -> AccessKeyView {
        AccessKeyView {
            access_key_id: k.id,
            user_id: k.user_id,
            redirect_uris: k.redirect_uris,
            created_at: timestamp(k.created_at),
            last_used_at: k.last_used_at.map(timestamp),
            revoked_at: k.revoked_at.map(timestamp),
        }
    }
}

/// A new access key with its secret: the only time the secret is shown.
#[derive(Serialize, ToSchema)]
pub struct NewAccessKeyView {
    pub access_key_id: String,
    /// Keep it now: it cannot be shown again. If lost, create a new key and revoke this one.
    pub secret: String,
    /// `Authorization: Bearer <bearer_token>` authenticates as the service account.
    pub bearer_token: String,
    pub user_id: String,
    pub redirect_uris: Vec<String>,
    pub created_at: String,
}

/// What a new access key may carry (the body may be left out).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessKey {
    /// Up to 10 redirect URIs (https, or http on localhost) for the key to act as an OAuth
    /// client in the authorization code flow (seed guides: Okta's OAuth callback). The user
    /// who signs in through it must be the key's own service account.
    pub redirect_uris: Option<Vec<String>>,
}

/// A service account of `org` that the caller may manage keys of.
async fn service_account(
    state: &AppState,
    who: &Principal,
    org: &Organization,
    id: &str,
    action: &str,
) -> ApiResult<User> {
    who.require(state, org, action, TOKENS_MANAGE).await?;
    let user = reachable_user(state, who, org, id, action).await?;
    if user.kind != UserKind::Service {
        return Err(ApiError::not_found(format!(
            "{id} is not a service account; access keys belong to service accounts"
        )));
    }
    Ok(user)
}

/// List service accounts (employees.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/service-accounts", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or short name"), super::PageQuery),
    responses((status = 200, body = Page<UserView>), (status = 404, body = ErrorBody)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Params(q): Params<super::PageQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    list_users(
        &state,
        &who,
        &org,
        UserListQuery {
            limit: q.limit,
            offset: q.offset,
            kind: Some(UserKind::Service),
            q: None,
        },
    )
    .await
}

/// Create a service account (employees.create; roles only within the caller's permissions).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/service-accounts", tag = "service accounts", request_body = CreateUser,
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 201, body = UserView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_account(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    crate::extract::Body(input): crate::extract::Body<CreateUser>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    let user = create_user(&state, &who, &org, input, UserKind::Service).await?;
    Ok(user_response(StatusCode::CREATED, user))
}

/// List a service account's access keys, revoked ones included (tokens.manage).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/service-accounts/{user}/access-keys", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or short name"), ("user" = String, Path, description = "Service account (user) id")),
    responses((status = 200, body = Page<AccessKeyView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<Json<Page<AccessKeyView>>> {
    let org = who.org(&state, &org).await?;
    let user = service_account(&state, &who, &org, &user, "access_key.list").await?;
    let keys = state.store.list_access_keys(&org.id, &user.id).await?;
    Ok(Json(Page::whole(
        keys.into_iter().map(AccessKeyView::from).collect(),
    )))
}

/// Create an access key; the secret is in this response only (tokens.manage).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/service-accounts/{user}/access-keys", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or short name"), ("user" = String, Path, description = "Service account (user) id")),
    request_body = Option<CreateAccessKey>,
    responses((status = 201, body = NewAccessKeyView), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path((org, user)): Path<(String, String)>,
    OptionalBody(input): OptionalBody<CreateAccessKey>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    let user = service_account(&state, &who, &org, &user, "access_key.create").await?;
    let redirect_uris = input.and_then(|i| i.redirect_uris).unwrap_or_default();
    if redirect_uris.len() > 10 {
        return Err(ApiError::invalid("redirect_uris holds at most 10 URIs"));
    }
    for (i, uri) in redirect_uris.iter().enumerate() {
        validate::browser_url(&format!("redirect_uris[{i}]"), uri)?;
    }
    let key_id = random_id(ACCESS_KEY_PREFIX, 24);
    let secret = random_token("", 32);
    let mut audit = who.audit("access_key.create");
    audit.detail = serde_json::json!({ "user_id": user.id });
    let key = state
        .store
        .create_access_key(
            &org.id,
            &user.id,
            user.version,
            &NewAccessKey {
                id: &key_id,
                secret_hash: &state.secrets.hash_secret(&secret),
                redirect_uris: &redirect_uris,
            },
            &audit,
        )
        .await?;
    let location = format!(
        "/api/v1/orgs/{}/service-accounts/{}/access-keys/{}",
        org.id, user.id, key.id
    );
    let body = NewAccessKeyView {
        bearer_token: format!("{}.{}", key.id, secret),
        access_key_id: key.id,
        secret,
        user_id: key.user_id,
        redirect_uris: key.redirect_uris,
        created_at: timestamp(key.created_at),
    };
    Ok(super::created_with_secret(&location, body))
}

/// Revoke an access key: it stops working at once (tokens.manage).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/service-accounts/{user}/access-keys/{key}", tag = "service accounts",
    params(("org" = String, Path, description = "Organization id or short name"), ("user" = String, Path, description = "Service account (user) id"), ("key" = String, Path, description = "Access key id")),
    responses((status = 200, body = AccessKeyView), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    Path((org, user, key)): Path<(String, String, String)>,
) -> ApiResult<Json<AccessKeyView>> {
    let org = who.org(&state, &org).await?;
    let user = service_account(&state, &who, &org, &user, "access_key.revoke").await?;
    let mut audit = who.audit("access_key.revoke");
    audit.target = Some(key.clone());
    Ok(Json(
        state
            .store
            .revoke_access_key(&org.id, &user.id, &key, &audit)
            .await?
            .into(),
    ))
}
