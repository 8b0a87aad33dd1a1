//! Who is provisioning: the credential alone decides the organization. Today that is a SCIM
//! token (`Bearer lyt_…`); OAuth access tokens from the authorization server slot in as a
//! second [`Credential`] kind, resolving the same way to an organization and a rate-limit key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use lanyard_store::{now_ms, AuditEvent, Outcome, ScimToken, LAST_USED_GRANULARITY_MS};

use super::error::{ScimError, ScimResult};
use super::ScimState;
use crate::limits::KeyedLimit;
use crate::secrets::SCIM_TOKEN_PREFIX;

/// What authenticated a SCIM request.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A SCIM token made on the organization's "SCIM Tokens" page.
    ScimToken { id: String },
}

/// The authenticated caller of a SCIM request.
#[derive(Debug, Clone)]
pub struct ScimCaller {
    pub org_id: String,
    pub credential: Credential,
}

impl ScimCaller {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::ScimToken { id } => format!("scim_token:{id}"),
        }
    }

    /// An audit event for `action` by this caller, in its organization.
    pub fn audit(&self, action: &str) -> AuditEvent {
        let mut event = AuditEvent::success(&self.actor(), action);
        event.org_id = Some(self.org_id.clone());
        event
    }

    pub fn limit_key(&self) -> String {
        self.actor()
    }
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

/// Valid SCIM tokens by the hash of their secret, read again after [`TOKEN_FRESH`]: every SCIM
/// request needs its token, and a database read per request costs more than the request. A
/// revocation through this process takes effect at once ([`TokenCache::forget`]); one made
/// through another process sharing the database, within [`TOKEN_FRESH`].
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Instant, ScimToken)>>,
}

/// How long a token read stays in use.
pub const TOKEN_FRESH: Duration = Duration::from_secs(2);

impl TokenCache {
    fn get(&self, hash: &str) -> Option<ScimToken> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(at, _)| at.elapsed() < TOKEN_FRESH)
            .map(|(_, t)| t.clone())
    }

    fn put(&self, hash: &str, token: ScimToken) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Stale entries go when the map grows; it holds only tokens that exist.
        if entries.len() > 10_000 {
            entries.retain(|_, (at, _)| at.elapsed() < TOKEN_FRESH);
        }
        entries.insert(hash.to_string(), (Instant::now(), token));
    }

    /// Forgets the token `id` (revoked): the next request reads it again.
    pub fn forget(&self, id: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (_, t)| t.id != id);
    }
}

impl FromRequestParts<ScimState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &ScimState) -> ScimResult<ScimCaller> {
        let missing = || {
            ScimError::unauthorized(
                "send the SCIM token made in Lanyard as Authorization: Bearer <token>",
            )
        };
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(missing)?
            .to_str()
            .map_err(|_| missing())?;
        let (scheme, token) = header.split_once(' ').ok_or_else(missing)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || !token.starts_with(SCIM_TOKEN_PREFIX) {
            return Err(missing());
        }
        let hash = state.app.secrets.hash_secret(token);
        let found = match state.caches.tokens.get(&hash) {
            Some(t) => Some(t),
            None => {
                let found = state.app.store.scim_token_by_hash(&hash).await?;
                if let Some(t) = &found {
                    state.caches.tokens.put(&hash, t.clone());
                }
                found
            }
        };
        let invalid =
            || ScimError::unauthorized("this SCIM token is not valid; make a new one in Lanyard");
        let Some(found) = found else {
            return Err(invalid());
        };
        let refused = if found.revoked_at.is_some() {
            Some("this SCIM token was revoked; make a new one in Lanyard")
        } else if found.expires_at.is_some_and(|t| t <= now_ms()) {
            Some("this SCIM token has expired; make a new one in Lanyard")
        } else {
            None
        };
        let caller = ScimCaller {
            org_id: found.org_id.clone(),
            credential: Credential::ScimToken {
                id: found.id.clone(),
            },
        };
        // Before anything is written for it: a refused token hammering the server is limited
        // like any other.
        state.limits.check(&caller.limit_key())?;
        if let Some(reason) = refused {
            let mut event = caller.audit("scim.authenticate");
            event.outcome = Outcome::Denied;
            event.detail = serde_json::json!({ "reason": reason });
            if let Err(e) = state.app.store.append_audit(&event).await {
                tracing::error!(error = %e, "could not audit a refused SCIM token");
            }
            return Err(ScimError::unauthorized(reason));
        }
        if found
            .last_used_at
            .is_none_or(|t| now_ms() - t >= LAST_USED_GRANULARITY_MS)
        {
            state.app.store.touch_scim_token(&found).await?;
            let mut touched = found;
            touched.last_used_at = Some(now_ms());
            state.caches.tokens.put(&hash, touched);
        }
        Ok(caller)
    }
}
