//! Failed sign-ins through a known connection, written to the organization's audit log as
//! `sso.sign_in_failed` with the error page's reference and the reason (the console lists
//! them as the connection's recent failures).
//!
//! Anyone can post a Response to `/saml`, so what they can make the log hold is bounded: rows
//! are limited per connection and per client address, one per pending request a minute, and
//! the reason (which may quote the Response, e.g. an unsigned status message) is cut short.
//! Past a limit the browser still gets the page with its reference; only the row is skipped.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, StatusCode};
use axum::response::Response;
use lanyard_store::{AuditEvent, Outcome, SsoConnection};

use crate::limits::{address_key, KeyedLimit};
use crate::oidc::page::error_page_referenced;
use crate::state::AppState;

/// The most characters of a reason a row keeps.
pub const REASON_CHARS: usize = 200;

/// The budgets of failure rows.
#[derive(Clone)]
pub struct FailureLog {
    per_connection: KeyedLimit,
    per_address: KeyedLimit,
    per_request: KeyedLimit,
}

impl Default for FailureLog {
    fn default() -> Self {
        FailureLog {
            per_connection: KeyedLimit::per_minute(30, 60),
            per_address: KeyedLimit::per_minute(10, 20),
            per_request: KeyedLimit::per_minute(1, 1),
        }
    }
}

/// Where a Response came from: the client address, and the request it answers, if any.
pub struct Arrival {
    address: String,
    pub request_id: Option<String>,
}

impl Arrival {
    pub fn new(extensions: &Extensions, request_id: Option<&str>) -> Arrival {
        let address = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| address_key(c.0.ip()));
        Arrival {
            address,
            request_id: request_id.map(str::to_string),
        }
    }
}

impl FailureLog {
    /// Whether one more row may be written for this failure (each budget it passes is spent).
    fn admits(&self, connection: &SsoConnection, arrival: &Arrival) -> bool {
        let request_ok = arrival.request_id.as_deref().is_none_or(|id| {
            self.per_request
                .check(&format!("{} {id}", connection.id))
                .is_ok()
        });
        request_ok
            && self.per_address.check(&arrival.address).is_ok()
            && self.per_connection.check(&connection.id).is_ok()
    }
}

/// `reason` cut to at most `REASON_CHARS` characters, marked where it was cut.
pub fn shortened(reason: &str) -> String {
    match reason.char_indices().nth(REASON_CHARS) {
        Some((at, _)) => format!("{}…", &reason[..at]),
        None => reason.to_string(),
    }
}

/// The error page for a sign-in through `connection` refused after the connection was known,
/// recorded in the organization's audit log when the budgets allow.
pub async fn failed_through(
    state: &AppState,
    log: &FailureLog,
    arrival: &Arrival,
    connection: &SsoConnection,
    (status, message): (StatusCode, &str),
    detail: &str,
) -> Response {
    let (page, reference) = error_page_referenced(status, message, detail);
    if !log.admits(connection, arrival) {
        tracing::debug!(connection = %connection.id, reference = %reference, "failed sign-in not recorded: over its budget");
        return page;
    }
    let actor = format!("sso_connection:{}", connection.id);
    let mut event = AuditEvent::success(&actor, "sso.sign_in_failed");
    event.org_id = Some(connection.org_id.clone());
    event.target = Some(connection.id.clone());
    event.outcome = Outcome::Failure;
    event.detail = serde_json::json!({ "reference": reference, "reason": shortened(detail) });
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not record a failed sign-in");
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let long = "é".repeat(REASON_CHARS + 50);
        let cut = shortened(&long);
        assert_eq!(cut.chars().count(), REASON_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shortened("short"), "short");
        assert_eq!(
            shortened(&"a".repeat(REASON_CHARS)),
            "a".repeat(REASON_CHARS)
        );
    }
}
