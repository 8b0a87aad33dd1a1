//! The console's one way to change anything: a request to the admin API's router, in-process,
//! as the signed-in person. The API's checks, audit rows and messages are the console's.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::{Console, ConsoleState};

/// An API refusal, shown to the admin beside the form: the API's own message.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub message: String,
}

impl ConsoleState {
    /// Calls the admin API at `path` (under `/api/v1`) as the console's caller; the JSON
    /// answer (`Null` for none) or the refusal.
    pub async fn call(
        &self,
        c: &Console,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiFailure> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .extension(c.who.clone());
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let request = request.body(body).map_err(|e| ApiFailure {
            status: StatusCode::BAD_REQUEST,
            message: e.to_string(),
        })?;
        let response = match self.api.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .unwrap_or_default();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(json)
        } else {
            let message = json["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            Err(ApiFailure { status, message })
        }
    }

    pub async fn get(&self, c: &Console, path: &str) -> Result<Value, ApiFailure> {
        self.call(c, Method::GET, path, None).await
    }

    pub async fn post(&self, c: &Console, path: &str, body: Value) -> Result<Value, ApiFailure> {
        self.call(c, Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, c: &Console, path: &str, body: Value) -> Result<Value, ApiFailure> {
        self.call(c, Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, c: &Console, path: &str) -> Result<Value, ApiFailure> {
        self.call(c, Method::DELETE, path, None).await
    }
}
