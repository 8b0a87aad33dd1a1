//! Who is provisioning, and what they may do: the credential alone decides the organization,
//! and the permissions behind it decide each request. Three credentials are accepted:
//! - a SCIM token (`Bearer lyt_…`), made by someone holding `scim`: all of SCIM;
//! - an OAuth access token (`Bearer lya_…`): the permissions of the user it acts for (the
//!   access key's service account included), or for a client acting for itself, the permission
//!   scopes it was granted;
//! - an access key (`Bearer <id>.<secret>`, or Basic with the id and secret): its service
//!   account's permissions.
//!
//! `scim` allows everything; otherwise `employees.view` reads, `employees.create` creates and
//! `employees.edit` replaces, patches and deletes. Everything is read from the database at
//! every request, so a revocation, a deactivation or a role losing a permission holds at the
//! next request on every instance sharing the database.

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lanyard_store::{now_ms, AuditEvent, Outcome, LAST_USED_GRANULARITY_MS};

use super::error::{ScimError, ScimResult};
use super::ScimState;
use crate::auth::prove_access_key;
use crate::limits::KeyedLimit;
use crate::permissions::{self, EMPLOYEES_CREATE, EMPLOYEES_EDIT, EMPLOYEES_VIEW, SCIM};
use crate::secrets::SCIM_TOKEN_PREFIX;

/// Access tokens start with this.
const ACCESS_TOKEN_PREFIX: &str = "lya_";

/// The authenticated caller of a SCIM request.
#[derive(Debug, Clone)]
pub struct ScimCaller {
    pub org_id: String,
    /// How the audit log names it: `scim_token:<id>`, `oauth:<client>` (with `/<user>` when
    /// it acts for one), `access_key:<id>`.
    actor: String,
    /// What it may do: `None` for a SCIM token (everything).
    permissions: Option<BTreeSet<String>>,
}

impl ScimCaller {
    /// An audit event for `action` by this caller, in its organization.
    pub fn audit(&self, action: &str) -> AuditEvent {
        let mut event = AuditEvent::success(&self.actor, action);
        event.org_id = Some(self.org_id.clone());
        event
    }

    pub fn limit_key(&self) -> String {
        self.actor.clone()
    }

    /// Whether this caller may make a request with `method` (a search posted to `.search` is
    /// a read); the refusal says which permission it lacks.
    pub fn allows(&self, method: &str, search: bool) -> ScimResult<()> {
        let Some(held) = &self.permissions else {
            return Ok(());
        };
        let needed = match method {
            _ if search => EMPLOYEES_VIEW,
            "GET" | "HEAD" => EMPLOYEES_VIEW,
            "POST" => EMPLOYEES_CREATE,
            _ => EMPLOYEES_EDIT,
        };
        if held.contains(SCIM) || permissions::holds(held, needed) {
            return Ok(());
        }
        Err(ScimError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this credential may not {method} here: it needs the \"scim\" or {needed:?} \
                 permission, which its user's roles (or its scopes) do not grant"
            ),
        ))
    }
}

impl ScimCaller {
    /// Whether this caller may change or delete the user `user_id`: as in the admin API, nobody
    /// acts on a user holding permissions they lack (else an `employees.edit` holder could
    /// take an admin's e-mail, and with it their sign-in). A SCIM token holds everything.
    pub async fn may_act_on_user(&self, state: &ScimState, user_id: &str) -> ScimResult<()> {
        let Some(held) = &self.permissions else {
            return Ok(());
        };
        let theirs = state
            .app
            .store
            .user_permissions(&self.org_id, user_id)
            .await?;
        let missing = permissions::missing(held, &theirs);
        if missing.is_empty() {
            return Ok(());
        }
        Err(ScimError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this user holds permissions this credential does not ({}); only a caller \
                 holding them may change or delete them",
                missing.join(", ")
            ),
        ))
    }
}

impl ScimCaller {
    /// The users this caller may not act on (those whose roles hold a permission it lacks),
    /// or `None` when it may act on everyone. Group changes that add or remove one of them
    /// are refused: membership decides what the product lets a person do.
    pub async fn protected_users(&self, state: &ScimState) -> ScimResult<Option<BTreeSet<String>>> {
        let Some(held) = &self.permissions else {
            return Ok(None);
        };
        let store = &state.app.store;
        let beyond: Vec<String> = store
            .list_roles(&self.org_id)
            .await?
            .into_iter()
            .filter(|role| !permissions::missing(held, &role.permissions).is_empty())
            .map(|role| role.id)
            .collect();
        if beyond.is_empty() {
            return Ok(None);
        }
        Ok(Some(store.users_with_roles(&self.org_id, &beyond).await?))
    }
}

/// The user ids a group document lists as members.
pub fn member_ids(doc: &serde_json::Value) -> BTreeSet<String> {
    doc.get("members")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(|v| v.as_str()).map(str::to_string))
        .collect()
}

/// Refuses a group change from members `before` to `after` that adds or removes one in
/// `protected` (see [`ScimCaller::protected_users`]).
pub fn guard_members(
    protected: Option<&BTreeSet<String>>,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> ScimResult<()> {
    let Some(protected) = protected else {
        return Ok(());
    };
    if before
        .symmetric_difference(after)
        .any(|id| protected.contains(id))
    {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            "this change adds or removes a member holding permissions this credential does not; \
             only a caller holding them may change their group memberships",
        ));
    }
    Ok(())
}

/// Requests per second allowed to each credential, with a burst of twice that.
#[derive(Clone)]
pub struct ScimLimits(KeyedLimit);

impl ScimLimits {
    /// `per_second` = 0 turns the limit off.
    pub fn new(per_second: u32) -> ScimLimits {
        ScimLimits(KeyedLimit::new(per_second))
    }

    /// Spends one request of `key`'s budget, or answers 429 with Retry-After.
    pub fn check(&self, key: &str) -> ScimResult<()> {
        self.0.check(key).map_err(|seconds| ScimError {
            retry_after: Some(seconds),
            ..ScimError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests with this credential; retry after the time in Retry-After",
            )
        })
    }
}

/// A credential found, or why it is refused after being recognised (audited).
struct Found {
    caller: ScimCaller,
    refused: Option<&'static str>,
}

const MISSING: &str = "send a SCIM token, an OAuth access token or an access key as \
     Authorization: Bearer <token>";

/// Reads the Authorization header into the credential it names.
async fn resolve(state: &ScimState, header: &str) -> ScimResult<Found> {
    let (scheme, value) = header
        .split_once(' ')
        .ok_or_else(|| ScimError::unauthorized(MISSING))?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            return access_key(state, id, secret).await;
        }
    } else if scheme.eq_ignore_ascii_case("bearer") {
        if value.starts_with(SCIM_TOKEN_PREFIX) {
            return scim_token(state, value).await;
        }
        if value.starts_with(ACCESS_TOKEN_PREFIX) {
            return access_token(state, value).await;
        }
        if let Some((id, secret)) = value.split_once('.') {
            return access_key(state, id, secret).await;
        }
    }
    Err(ScimError::unauthorized(MISSING))
}

async fn scim_token(state: &ScimState, token: &str) -> ScimResult<Found> {
    let store = &state.app.store;
    let found = store
        .scim_token_by_hash(&state.app.secrets.hash_secret(token))
        .await?
        .ok_or_else(|| {
            ScimError::unauthorized("this SCIM token is not valid; make a new one in Lanyard")
        })?;
    let refused = if found.revoked_at.is_some() {
        Some("this SCIM token was revoked; make a new one in Lanyard")
    } else if found.expires_at.is_some_and(|t| t <= now_ms()) {
        Some("this SCIM token has expired; make a new one in Lanyard")
    } else {
        None
    };
    if refused.is_none()
        && found
            .last_used_at
            .is_none_or(|t| now_ms() - t >= LAST_USED_GRANULARITY_MS)
    {
        store.touch_scim_token(&found).await?;
    }
    Ok(Found {
        caller: ScimCaller {
            org_id: found.org_id,
            actor: format!("scim_token:{}", found.id),
            permissions: None,
        },
        refused,
    })
}

async fn access_token(state: &ScimState, token: &str) -> ScimResult<Found> {
    let store = &state.app.store;
    let live = store
        .access_token(&state.app.secrets.hash_secret(token))
        .await?
        .ok_or_else(|| {
            ScimError::unauthorized(
                "this access token is unknown, expired or revoked, or its user or client was \
                 deactivated; authenticate again",
            )
        })?;
    let found = live.token;
    let (actor, permissions) =
        match &found.user_id {
            // A token acting for a user provisions only through a client the user consented to
            // (an integration) or their own access key: an app signs people in without asking,
            // so its tokens carry no SCIM rights.
            Some(_) if live.client_kind == "app" => return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                "this access token was issued to an app; SCIM takes tokens of integration clients \
                 (which the user consents to), access keys, SCIM tokens or client credentials",
            )),
            Some(user) => (
                format!("oauth:{}/{user}", found.client_id),
                store.user_permissions(&found.org_id, user).await?,
            ),
            None => {
                let scopes: Vec<String> = found.scope.split(' ').map(str::to_string).collect();
                (
                    format!("oauth:{}", found.client_id),
                    crate::oauth_scopes::permissions(&scopes),
                )
            }
        };
    Ok(Found {
        caller: ScimCaller {
            org_id: found.org_id,
            actor,
            permissions: Some(permissions),
        },
        refused: None,
    })
}

async fn access_key(state: &ScimState, id: &str, secret: &str) -> ScimResult<Found> {
    let (cred, refused) = prove_access_key(&state.app, id, secret)
        .await?
        .ok_or_else(|| ScimError::unauthorized("unknown access key id or wrong secret"))?;
    let store = &state.app.store;
    let permissions = store
        .user_permissions(&cred.key.org_id, &cred.key.user_id)
        .await?;
    if refused.is_none() {
        store.touch_access_key(&cred.key).await?;
    }
    Ok(Found {
        caller: ScimCaller {
            org_id: cred.key.org_id,
            actor: format!("access_key:{}", cred.key.id),
            permissions: Some(permissions),
        },
        refused,
    })
}

/// Audits a refusal of a recognised credential; a failure to write it is logged.
async fn audit_refusal(state: &ScimState, caller: &ScimCaller, reason: &str) {
    let mut event = caller.audit("scim.authenticate");
    event.outcome = Outcome::Denied;
    event.detail = serde_json::json!({ "reason": reason });
    if let Err(e) = state.app.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not audit a refused SCIM credential");
    }
}

impl FromRequestParts<ScimState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &ScimState) -> ScimResult<ScimCaller> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ScimError::unauthorized(MISSING))?;
        let Found { caller, refused } = resolve(state, header).await?;
        // Before anything more is written for it: a refused credential hammering the server
        // is limited like any other.
        state.limits.check(&caller.limit_key())?;
        if let Some(reason) = refused {
            audit_refusal(state, &caller, reason).await;
            return Err(ScimError::unauthorized(reason));
        }
        // Under the `/scim/v2` nest the path is the router's own.
        let path = parts.uri.path();
        let path = path.strip_prefix("/scim/v2").unwrap_or(path);
        // Bulk checks each of its operations; everything else is checked here.
        if !(parts.method == Method::POST && path == "/Bulk") {
            let search = parts.method == Method::POST
                && matches!(path, "/.search" | "/Users/.search" | "/Groups/.search");
            if let Err(refusal) = caller.allows(parts.method.as_str(), search) {
                audit_refusal(state, &caller, &refusal.detail).await;
                return Err(refusal);
            }
        }
        Ok(caller)
    }
}
