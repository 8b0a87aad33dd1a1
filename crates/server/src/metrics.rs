//! Prometheus metrics: request counts and latency histograms by route template and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const DURATION: &str = "lanyard_http_request_duration_seconds";
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
