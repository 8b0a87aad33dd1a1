//! The HTTP application: every route, and the layers around them.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::api::ApiState;
use crate::error::ApiError;
use crate::oidc::{IdTokenKeys, OidcState};
use crate::scim::{ScimError, ScimLimits, ScimState};
use crate::state::AppState;
use crate::{api, console, metrics, oidc, saml, scim};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application, ready to serve: each surface under its own state.
pub fn build(state: AppState, scim_limits: ScimLimits, id_token_keys: IdTokenKeys) -> Router {
    let scim_state = ScimState::new(state.clone(), scim_limits);
    let api_state = ApiState {
        app: state.clone(),
        scim: scim_state.caches.clone(),
    };
    let oidc_state = OidcState {
        app: state.clone(),
        keys: Arc::new(id_token_keys),
        logins: oidc::login::LoginLimits::default(),
    };
    let max_body_bytes = state.max_body_bytes;
    let (api, mut openapi) = api::router();
    openapi.servers = Some(vec![utoipa::openapi::Server::new(
        state.public_url.to_string(),
    )]);
    let openapi = serde_json::to_value(&openapi).expect("the OpenAPI document serializes");
    let console_state = console::ConsoleState {
        app: state.clone(),
        api: api.clone().with_state(api_state.clone()),
        limits: console::SignInLimits::default(),
    };
    Router::new()
        .merge(api.with_state(api_state))
        .merge(console::router().with_state(console_state))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(openapi) }),
        )
        .nest("/scim/v2", scim::router().with_state(scim_state))
        // Sign-in, consent, activation and their error pages speak the browser's language.
        .merge(
            oidc::router()
                .with_state(oidc_state)
                .layer(middleware::from_fn(crate::i18n::choose)),
        )
        .merge(
            saml::router()
                .with_state(saml::SamlState::new(state.clone()))
                .layer(middleware::from_fn(crate::i18n::choose)),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(move |request, next| {
            refuse_oversized(max_body_bytes, request, next)
        }))
        // Inside the error rewriting, so a panic under /scim/v2 is answered in SCIM's format.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(metrics::track))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Outermost, so no layer (tracing included) ever sees credentials as loggable.
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is not reachable",
            )
            .into_response()
        }
    }
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => {
            let mut text = handle.render();
            match state.store.all_sso_connections().await {
                Ok(connections) => text.push_str(&metrics::certificate_expiry(
                    &connections,
                    lanyard_store::now_ms(),
                )),
                Err(e) => tracing::error!(error = %e, "metrics: reading SSO connections"),
            }
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
                .into_response()
        }
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "metrics are not recorded in this process",
        )
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; the API is described at /api/v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Answers a panic in a handler with the API's 500 error (and logs it) instead of a dropped
/// connection.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}

/// Largest declared body read through to answer 413: past it the connection is simply closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Answers 413 to a body declared larger than `max` — after reading it through. A client that
/// writes its whole body before reading the answer (Python's `requests`, Entra ID's agent) would
/// otherwise see a broken pipe instead of the 413 and its message. The plain-text answer is put
/// in each surface's format by [`json_errors`].
async fn refuse_oversized(max: usize, request: Request, next: middleware::Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let Some(declared) = declared.filter(|&d| d > max) else {
        return next.run(request).await;
    };
    if declared <= DRAIN_LIMIT {
        use http_body_util::BodyExt;
        // Read and dropped frame by frame: nothing is kept.
        let mut body = request.into_body();
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    }
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body ({declared} bytes) is larger than this server accepts ({max} bytes, \
             --max-body-bytes); send smaller requests (for SCIM Bulk, fewer operations)"
        ),
    )
        .into_response()
}

/// Rewrites any error response that is not already JSON (an extractor's plain-text rejection,
/// say) into the API's error format, so clients only ever parse one shape.
async fn json_errors(request: Request, next: middleware::Next) -> Response {
    let scim = request.uri().path().starts_with("/scim/");
    let response = next.run(request).await;
    let status = response.status();
    // Under /scim/v2 every error is SCIM JSON; elsewhere any JSON error is the API's own.
    let wanted: &[u8] = if scim {
        scim::SCIM_JSON.as_bytes()
    } else {
        b"application/json"
    };
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(wanted));
    // Sign-in error pages are for a person in a browser, and already say what happened.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_page {
        return response;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    };
    let (parts, body) = response.into_parts();
    let detail = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&detail);
    // An API error being re-dressed for SCIM keeps its message.
    let detail = serde_json::from_str::<serde_json::Value>(&detail)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| detail.to_string());
    let message = if detail.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_string()
    } else {
        detail.trim().to_string()
    };
    // Under /scim/v2 the error is SCIM's own format; elsewhere the admin API's.
    let mut rewritten = if scim {
        let scim_type =
            (status == StatusCode::BAD_REQUEST).then_some(lanyard_scim::ScimType::InvalidSyntax);
        ScimError {
            scim_type,
            ..ScimError::new(status, message)
        }
        .into_response()
    } else {
        ApiError::new(status, code, message).into_response()
    };
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}
