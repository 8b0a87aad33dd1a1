//! Who is calling: an operator key (every organization), or a member of one organization acting
//! with the permissions of their roles — an access key (its service account's roles) or a user
//! signed in to the admin console. Tenant scoping happens here too: an access key
//! asking for another organization gets the same 404 as for one that does not exist.

use std::collections::BTreeSet;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lanyard_store::{AccessKeyCredential, AuditEvent, Organization, Outcome, StoreError, UserKind};

use crate::error::{ApiError, ApiResult};
use crate::permissions;
use crate::state::AppState;

/// Operator keys start with this; the rest is the secret.
pub const OPERATOR_KEY_PREFIX: &str = "lyo_";
/// Access key ids start with this.
pub const ACCESS_KEY_PREFIX: &str = "lak_";

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub enum Principal {
    Operator {
        key_id: String,
    },
    /// An access key, or a console user (the console calls the API in-process as them).
    Member {
        /// How the audit log names them: `access_key:<id>` or `user:<id>`.
        actor: String,
        org_id: String,
        permissions: BTreeSet<String>,
    },
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self {
            Principal::Operator { key_id } => format!("operator:{key_id}"),
            Principal::Member { actor, .. } => actor.clone(),
        }
    }

    /// An audit event for `action` by this caller.
    pub fn audit(&self, action: &str) -> AuditEvent {
        AuditEvent::success(&self.actor(), action)
    }

    /// The organization named by `id_or_short_name`, if this caller may see it; otherwise 404,
    /// whether it exists or not.
    pub async fn org(&self, state: &AppState, id_or_short_name: &str) -> ApiResult<Organization> {
        let not_found = || ApiError::not_found(format!("no organization {id_or_short_name:?}"));
        let org = state
            .store
            .find_org(id_or_short_name)
            .await?
            .ok_or_else(not_found)?;
        match self {
            Principal::Member { org_id, .. } if *org_id != org.id => {
                // Answered as if it did not exist; recorded in the caller's own log.
                let own = org_id.clone();
                let reason = "asked for another organization".to_string();
                Err(self
                    .refuse(state, Some(&own), "org.access", reason, not_found())
                    .await)
            }
            _ => Ok(org),
        }
    }

    /// Succeeds for the operator and for callers holding `permission`; a refusal is audited.
    pub async fn require(
        &self,
        state: &AppState,
        org: &Organization,
        action: &str,
        permission: &str,
    ) -> ApiResult<()> {
        match self {
            Principal::Operator { .. } => Ok(()),
            Principal::Member {
                permissions: held, ..
            } if permissions::holds(held, permission) => Ok(()),
            Principal::Member { .. } => {
                let message = format!(
                    "this needs the {permission:?} permission, which your roles do not grant"
                );
                Err(self.deny(state, Some(&org.id), action, message).await)
            }
        }
    }

    /// Succeeds for the operator only; a refusal is audited.
    pub async fn require_operator(&self, state: &AppState, action: &str) -> ApiResult<()> {
        match self {
            Principal::Operator { .. } => Ok(()),
            Principal::Member { org_id, .. } => {
                let org_id = org_id.clone();
                Err(self
                    .deny(
                        state,
                        Some(&org_id),
                        action,
                        "only an operator key may do this".into(),
                    )
                    .await)
            }
        }
    }

    /// Refuses unless this caller holds every permission in `granted`: nobody hands out more
    /// than they have, whether by granting roles or by acting on a more powerful user.
    pub async fn require_all(
        &self,
        state: &AppState,
        org: &Organization,
        action: &str,
        granted: &BTreeSet<String>,
    ) -> ApiResult<()> {
        let Principal::Member {
            permissions: held, ..
        } = self
        else {
            return Ok(());
        };
        let missing = permissions::missing(held, granted);
        if missing.is_empty() {
            return Ok(());
        }
        let message = format!(
            "this would give or touch permissions you do not hold: {}",
            missing.join(", ")
        );
        Err(self.deny(state, Some(&org.id), action, message).await)
    }

    async fn deny(
        &self,
        state: &AppState,
        org_id: Option<&str>,
        action: &str,
        message: String,
    ) -> ApiError {
        let answer = ApiError::forbidden(message.clone());
        self.refuse(state, org_id, action, message, answer).await
    }

    /// Audits a refusal by this caller and returns the answer to give.
    async fn refuse(
        &self,
        state: &AppState,
        org_id: Option<&str>,
        action: &str,
        reason: String,
        answer: ApiError,
    ) -> ApiError {
        audit_refusal(state, &self.actor(), org_id, action, None, reason).await;
        answer
    }
}

/// Writes a `denied` audit row; a failure to write it is logged, not answered.
async fn audit_refusal(
    state: &AppState,
    actor: &str,
    org_id: Option<&str>,
    action: &str,
    target: Option<&str>,
    reason: String,
) {
    let mut event = AuditEvent::success(actor, action);
    event.org_id = org_id.map(str::to_string);
    event.target = target.map(str::to_string);
    event.outcome = Outcome::Denied;
    event.detail = serde_json::json!({ "reason": reason });
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not audit a refusal");
    }
}

impl<S> FromRequestParts<S> for Principal
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Principal> {
        // The console calls the API in-process with its signed-in user already resolved; no
        // request from outside can carry an extension.
        if let Some(who) = parts.extensions.get::<Principal>() {
            return Ok(who.clone());
        }
        let state = &AppState::from_ref(state);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "send an operator key or an access key as Authorization: Bearer <key>",
                )
            })?
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not readable text"))?;
        let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
        let value = value.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if value.starts_with(OPERATOR_KEY_PREFIX) {
                return operator(state, value).await;
            }
            if let Some((id, secret)) = value.split_once('.') {
                return access_key(state, id, secret).await;
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD
                .decode(value)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                return access_key(state, id, secret).await;
            }
        }
        Err(ApiError::unauthorized(
            "unrecognised credential: use Bearer <operator key>, Bearer <access key id>.<secret>, \
             or Basic with the access key id and secret",
        ))
    }
}

pub async fn operator(state: &AppState, token: &str) -> ApiResult<Principal> {
    let hash = state.secrets.hash_secret(token);
    let found = state.store.operator_key_by_hash(&hash).await?;
    match found {
        Some((key, stored)) if state.secrets.verify_secret(token, &stored) => {
            if key.revoked_at.is_some() {
                return Err(ApiError::unauthorized("this operator key was revoked; create a new one with `lanyard operator-key create`"));
            }
            state.store.touch_operator_key(&key).await?;
            Ok(Principal::Operator { key_id: key.id })
        }
        _ => Err(ApiError::unauthorized("unknown operator key")),
    }
}

/// The access key `id`, if `secret` is its secret (`None` for a malformed or unknown id or a
/// wrong secret), with why it may not act, if it may not: revoked, or its service account
/// deactivated. Shared by every surface an access key authenticates at.
pub async fn prove_access_key(
    state: &AppState,
    id: &str,
    secret: &str,
) -> Result<Option<(AccessKeyCredential, Option<&'static str>)>, StoreError> {
    let well_formed = id.starts_with(ACCESS_KEY_PREFIX)
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !well_formed {
        return Ok(None);
    }
    let Some(cred) = state.store.access_key_credential(id).await? else {
        return Ok(None);
    };
    if !state.secrets.verify_secret(secret, &cred.secret_hash) {
        return Ok(None);
    }
    let refusal = if cred.key.revoked_at.is_some() {
        Some("this access key was revoked; ask an admin for a new one")
    } else if !cred.user_active || cred.user_kind != UserKind::Service {
        Some("the service account of this access key is deactivated")
    } else {
        None
    };
    Ok(Some((cred, refusal)))
}

async fn access_key(state: &AppState, id: &str, secret: &str) -> ApiResult<Principal> {
    let unknown = || ApiError::unauthorized("unknown access key id or wrong secret");
    let (cred, refusal) = prove_access_key(state, id, secret)
        .await?
        .ok_or_else(unknown)?;
    if let Some(message) = refusal {
        // The secret was right, so this is the key's holder: worth a line in its org's log.
        let actor = format!("access_key:{}", cred.key.id);
        let (org, key) = (Some(cred.key.org_id.as_str()), Some(cred.key.id.as_str()));
        audit_refusal(state, &actor, org, "authenticate", key, message.into()).await;
        return Err(ApiError::unauthorized(message));
    }
    let permissions = state
        .store
        .user_permissions(&cred.key.org_id, &cred.key.user_id)
        .await?;
    state.store.touch_access_key(&cred.key).await?;
    Ok(Principal::Member {
        actor: format!("access_key:{}", cred.key.id),
        org_id: cred.key.org_id,
        permissions,
    })
}
