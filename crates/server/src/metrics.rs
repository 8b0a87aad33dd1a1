//! Prometheus metrics: request counts and latency histograms by route template and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use lanyard_saml::certs::Certificate;
use lanyard_store::SsoConnection;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const DURATION: &str = "lanyard_http_request_duration_seconds";
const CERTIFICATE_EXPIRY: &str = "lanyard_sso_certificate_expiry_seconds";
const REQUESTS: &str = "lanyard_http_requests_total";

/// Installs the process-wide recorder. `None` if one is installed already (a second server in
/// the same process), in which case `/metrics` answers 503.
pub fn install() -> Option<PrometheusHandle> {
    let buckets = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DURATION.to_string()), &buckets)
        .ok()?
        .install_recorder()
        .ok()
}

/// Records one request. The route is the matched template (`/api/v1/orgs/{org}`), never the
/// raw path, so ids do not explode the label set.
pub async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(DURATION, &labels).record(start.elapsed().as_secs_f64());
    response
}

/// A label value in the exposition format: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Seconds until each IdP certificate of each connection expires (negative once expired), in
/// the Prometheus text format. Read afresh at each scrape, so a certificate removed or a
/// connection deleted leaves no stale series behind.
pub fn certificate_expiry(connections: &[SsoConnection], now_ms: i64) -> String {
    let mut out = format!(
        "# HELP {CERTIFICATE_EXPIRY} Seconds until an SSO connection's IdP signing certificate expires.\n\
         # TYPE {CERTIFICATE_EXPIRY} gauge\n"
    );
    for connection in connections {
        for certificate in connection
            .certificates
            .iter()
            .filter_map(|c| Certificate::parse(c.as_bytes()).ok())
        {
            let seconds = certificate.not_after - now_ms.div_euclid(1000);
            out.push_str(&format!(
                "{CERTIFICATE_EXPIRY}{{org=\"{}\",connection=\"{}\",fingerprint_sha256=\"{}\",subject=\"{}\"}} {seconds}\n",
                label(&connection.org_id),
                label(&connection.id),
                label(&certificate.fingerprint_sha256),
                label(&certificate.subject),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
