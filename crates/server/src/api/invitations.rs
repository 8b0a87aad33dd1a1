//! Invitations (a single-use link where a user sets their password and so activates their
//! account: e-mailed when SMTP is configured, otherwise returned once), and the consents a
//! user gave integration clients.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use lanyard_store::Consent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::reachable_user;
use super::{timestamp, Page};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::OptionalBody;
use crate::permissions::{EMPLOYEES_EDIT, EMPLOYEES_VIEW};
use crate::secrets::random_token;
use crate::state::AppState;

/// How long an invitation link works unless the request says otherwise.
pub const DEFAULT_INVITATION_HOURS: i64 = 72;

/// What an invitation may say (the body may be left out).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// How long the link works, 1–720 hours (default 72).
    pub expires_in_hours: Option<i64>,
}

/// A new invitation.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub user_id: String,
    pub expires_at: String,
    /// Where the link was e-mailed, when SMTP is configured.
    pub sent_to: Option<String>,
    /// The link itself, when no SMTP server is configured: shown this once; give it to the
    /// user by a channel you trust.
    pub activation_url: Option<String>,
}

/// Invite a user (a person or a service account) to set their password; an earlier unused
/// link ends (employees.edit, and every permission the user holds).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/users/{id}/invitation", tag = "users",
    request_body = Option<CreateInvitation>,
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "User id")),
    responses((status = 201, body = InvitationView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
    OptionalBody(input): OptionalBody<CreateInvitation>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "user.invite", EMPLOYEES_EDIT)
        .await?;
    let user = reachable_user(&state, &who, &org, &id, "user.invite").await?;
    let hours = input
        .and_then(|i| i.expires_in_hours)
        .unwrap_or(DEFAULT_INVITATION_HOURS);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::invalid("expires_in_hours must be 1 to 720"));
    }
    let address = user
        .email
        .clone()
        .or_else(|| user.user_name.contains('@').then(|| user.user_name.clone()));
    if state.mailer.is_some() && address.is_none() {
        return Err(ApiError::invalid(
            "the user has no e-mail address to send the invitation to; set email first",
        ));
    }
    let secret = random_token("lyi_", 32);
    let expires_at = lanyard_store::now_ms() + hours * 3_600_000;
    let audit = who.audit("user.invite");
    state
        .store
        .create_invitation(
            &org.id,
            &user.id,
            &state.secrets.hash_secret(&secret),
            expires_at,
            &audit,
        )
        .await?;
    let link = crate::urls::with_query(
        &state.public_url.join("/auth/activate"),
        &[("token", &secret)],
    );
    let mut body = InvitationView {
        user_id: user.id.clone(),
        expires_at: timestamp(expires_at),
        sent_to: None,
        activation_url: None,
    };
    match (&state.mailer, address) {
        (Some(mailer), Some(to)) => {
            mailer
                .send_invitation(&to, &org.display_name, &link, &body.expires_at)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %format!("{e:#}"), "invitation e-mail failed");
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "mail_failed",
                        format!("the invitation was made but its e-mail could not be sent ({e:#}); check --smtp-url and invite again"),
                    )
                })?;
            body.sent_to = Some(to);
        }
        _ => body.activation_url = Some(link),
    }
    let location = format!("/api/v1/orgs/{}/users/{}", org.id, user.id);
    Ok(super::created_with_secret(&location, body))
}

/// A consent a user gave an integration client.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    pub client_id: String,
    pub scope: String,
    pub created_at: String,
}

impl From<Consent> for ConsentView {
    fn from(c: Consent) -> ConsentView {
        ConsentView {
            client_id: c.client_id,
            scope: c.scope,
            created_at: timestamp(c.created_at),
        }
    }
}

/// The integration clients a user consented to (employees.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/users/{id}/consents", tag = "users",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "User id")),
    responses((status = 200, body = Page<ConsentView>), (status = 404, body = ErrorBody)))]
pub async fn list_consents(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<Page<ConsentView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "consent.list", EMPLOYEES_VIEW)
        .await?;
    let user = state.store.get_user(&org.id, &id).await?;
    let list = state.store.list_consents(&org.id, &user.id).await?;
    Ok(Json(Page::whole(
        list.into_iter().map(Into::into).collect(),
    )))
}

/// Revoke a consent: the client's tokens for the user end, and it asks again at the next
/// sign-in (employees.edit).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/users/{id}/consents/{client_id}", tag = "users",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "User id"), ("client_id" = String, Path, description = "client_id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke_consent(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id, client_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "consent.revoke", EMPLOYEES_EDIT)
        .await?;
    let user = reachable_user(&state, &who, &org, &id, "consent.revoke").await?;
    let audit = who.audit("consent.revoke");
    state
        .store
        .revoke_consent(&org.id, &user.id, &client_id, &audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
