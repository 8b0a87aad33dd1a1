//! Failed sign-ins through a known connection, written to the organization's audit log as
//! `sso.sign_in_failed` with the error page's reference and the reason (the console lists
//! them as the connection's recent failures).
//!
//! Anyone can post a Response to `/saml`, so what they can make the log hold is bounded.
//! Failures before the signature verified are limited to one per pending request a minute,
//! then per client address (so one address cannot spend a connection's whole budget), then per
//! connection. Failures after it verified (an unknown user, an assertion
//! already spent) come from the IdP itself and have a budget of their own, which a stranger's
//! unsigned posts cannot use up. Past a budget the browser still gets the page with its
//! reference; only the row is skipped, and at most once a minute a connection's log gets a row
//! counting the rows skipped. Reasons (which may quote the Response, e.g. an unsigned status
//! message) are cut short.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, StatusCode};
use axum::response::Response;
use lanyard_saml::response::Hints;
use lanyard_store::{AuditEvent, Outcome, SsoConnection};

use crate::limits::{address_key, KeyedLimit};
use crate::oidc::page::{error_page_referenced, shortened};
use crate::state::AppState;

/// Whether a refused Response's signature had verified.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Signed {
    Verified,
    Unverified,
}

/// The budgets of failure rows, and the rows skipped per connection since its last summary.
#[derive(Clone)]
pub struct FailureLog {
    per_address: KeyedLimit,
    per_connection: KeyedLimit,
    per_request: KeyedLimit,
    verified: KeyedLimit,
    summaries: KeyedLimit,
    /// Keyed by connection id: as many entries as connections that skipped a row.
    skipped: Arc<Mutex<HashMap<String, u64>>>,
}

impl Default for FailureLog {
    fn default() -> Self {
        FailureLog {
            per_address: KeyedLimit::per_minute(10, 20),
            per_connection: KeyedLimit::per_minute(30, 60),
            per_request: KeyedLimit::per_minute(1, 1),
            verified: KeyedLimit::per_minute(30, 60),
            summaries: KeyedLimit::per_minute(1, 1),
            skipped: Arc::default(),
        }
    }
}

/// Where a Response came from: the client address, the request it answers, if any, and what
/// it says of itself before anything is verified (the parts a support engineer asks for).
pub struct Arrival {
    address: String,
    pub request_id: Option<String>,
    unverified: serde_json::Value,
}

impl Arrival {
    pub fn new(extensions: &Extensions, hints: &Hints) -> Arrival {
        let address = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| address_key(c.0.ip()));
        let cut = |v: &Option<String>| v.as_deref().map(shortened);
        Arrival {
            address,
            request_id: hints.in_response_to.clone(),
            unverified: serde_json::json!({
                "issuer": cut(&hints.assertion_issuer).or(cut(&hints.response_issuer)),
                "destination": cut(&hints.destination),
                "audience": cut(&hints.audience),
                "name_id": cut(&hints.name_id),
                "in_response_to": cut(&hints.in_response_to),
            }),
        }
    }
}

impl FailureLog {
    /// Whether one more row may be written for this failure. Budgets are checked in order and
    /// the first that refuses stops the rest, so a refused row spends nothing further along.
    fn admits(&self, connection: &SsoConnection, arrival: &Arrival, signed: Signed) -> bool {
        if signed == Signed::Verified {
            return self.verified.check(&connection.id).is_ok();
        }
        let request_ok = arrival.request_id.as_deref().is_none_or(|id| {
            self.per_request
                .check(&format!("{} {id}", connection.id))
                .is_ok()
        });
        request_ok
            && self.per_address.check(&arrival.address).is_ok()
            && self.per_connection.check(&connection.id).is_ok()
    }

    /// Counts a skipped row; the number skipped since the last summary when one is due.
    fn skip(&self, connection: &SsoConnection) -> Option<u64> {
        let mut skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
        let count = skipped.entry(connection.id.clone()).or_default();
        *count += 1;
        if self.summaries.check(&connection.id).is_err() {
            return None;
        }
        Some(std::mem::take(count))
    }
}

fn failure_row(connection: &SsoConnection, detail: serde_json::Value) -> AuditEvent {
    let actor = format!("sso_connection:{}", connection.id);
    let mut event = AuditEvent::success(&actor, "sso.sign_in_failed");
    event.org_id = Some(connection.org_id.clone());
    event.target = Some(connection.id.clone());
    event.outcome = Outcome::Failure;
    event.detail = detail;
    event
}

/// The error page for a sign-in through `connection` refused after the connection was known,
/// recorded in the organization's audit log when the budgets allow: the page's reference, the
/// reason, the signature that failed (`Response` or `Assertion`, when one did), and the
/// Response's own unverified account of itself.
pub async fn failed_through(
    state: &AppState,
    log: &FailureLog,
    (arrival, signed): (&Arrival, Signed),
    connection: &SsoConnection,
    (status, message): (StatusCode, &str),
    (detail, signature): (&str, Option<&str>),
) -> Response {
    let (page, reference) = error_page_referenced(status, message, detail);
    let event = if log.admits(connection, arrival, signed) {
        failure_row(
            connection,
            serde_json::json!({
                "reference": reference,
                "reason": shortened(detail),
                "signature_failed": signature,
                "unverified": arrival.unverified,
            }),
        )
    } else if let Some(skipped) = log.skip(connection) {
        let reason = format!("{skipped} more failed sign-ins were not recorded (too many at once)");
        failure_row(
            connection,
            serde_json::json!({ "reference": null, "reason": reason, "skipped": skipped }),
        )
    } else {
        tracing::debug!(connection = %connection.id, reference = %reference, "failed sign-in not recorded: over its budget");
        return page;
    };
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not record a failed sign-in");
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(id: &str) -> SsoConnection {
        SsoConnection {
            id: id.into(),
            org_id: "org".into(),
            name: "IdP".into(),
            kind: "generic".into(),
            idp_entity_id: "https://idp.example".into(),
            sso_url: "https://idp.example/sso".into(),
            certificates: vec![],
            sp_entity_id: format!("https://sp.example/saml/{id}"),
            endpoint_compression: false,
            allow_idp_initiated: false,
            enabled: true,
            logo_svg: None,
            shared_audience: false,
            attribute_mapping: Default::default(),
            clock_skew_seconds: 180,
            sign_requests: false,
            require_encrypted_assertions: false,
            content_encryption: "aes256-gcm".into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn from(address: &str) -> Arrival {
        Arrival {
            address: address.into(),
            request_id: None,
            unverified: serde_json::Value::Null,
        }
    }

    #[test]
    fn one_address_cannot_spend_a_connection_budget_nor_crowd_out_verified_failures() {
        let log = FailureLog::default();
        let conn = connection("c1");
        let admitted = (0..100)
            .filter(|_| log.admits(&conn, &from("203.0.113.9"), Signed::Unverified))
            .count();
        assert_eq!(admitted, 20, "one address gets its own burst only");
        // The connection's budget is still there for other addresses…
        assert!(log.admits(&conn, &from("198.51.100.7"), Signed::Unverified));
        // …and what the IdP signed has a budget of its own.
        let verified = (0..100)
            .filter(|_| log.admits(&conn, &from("203.0.113.9"), Signed::Verified))
            .count();
        assert_eq!(verified, 60);
    }

    #[test]
    fn skipped_rows_are_summarised_at_most_once_a_minute() {
        let log = FailureLog::default();
        let conn = connection("c2");
        assert_eq!(log.skip(&conn), Some(1));
        assert_eq!(log.skip(&conn), None);
        assert_eq!(log.skip(&conn), None);
        assert_eq!(log.skip(&connection("c3")), Some(1), "per connection");
    }
}
