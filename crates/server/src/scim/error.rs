//! SCIM's error format (RFC 7644 §3.12) for every failure under `/scim/v2`, with statuses the
//! IdPs act on correctly: 4xx for what the request got wrong (Entra ID retries 5xx forever).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lanyard_scim::messages::error_body;
use lanyard_scim::ScimType;
use lanyard_store::StoreError;

/// The SCIM media type.
pub const SCIM_JSON: &str = "application/scim+json";

/// A SCIM error response.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ScimError {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError {
            scim_type: Some(scim_type),
            ..ScimError::new(StatusCode::BAD_REQUEST, detail)
        }
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::UNAUTHORIZED, detail)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let body = error_body(self.status.as_u16(), self.scim_type, &self.detail);
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\", error=\"invalid_token\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<lanyard_scim::Error> for ScimError {
    fn from(e: lanyard_scim::Error) -> ScimError {
        ScimError::bad_request(e.scim_type, e.message)
    }
}

impl From<StoreError> for ScimError {
    fn from(err: StoreError) -> ScimError {
        match err {
            StoreError::NotFound => ScimError::not_found("no such resource"),
            StoreError::Conflict(message) => ScimError {
                scim_type: Some(ScimType::Uniqueness),
                ..ScimError::new(StatusCode::CONFLICT, message)
            },
            StoreError::InvalidFilter(message) => {
                ScimError::bad_request(ScimType::InvalidFilter, message)
            }
            StoreError::InvalidReference(message) | StoreError::InvalidInput(message) => {
                ScimError::bad_request(ScimType::InvalidValue, message)
            }
            StoreError::Precondition(message) => ScimError::new(StatusCode::BAD_REQUEST, message),
            StoreError::VersionMismatch { current } => ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "the resource changed since that version was read (now W/\"{current}\"); \
                     read it again and retry"
                ),
            ),
            StoreError::Database(e) => {
                tracing::error!(error = %e, "database error");
                ScimError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database did not answer; try again shortly",
                )
            }
            other => {
                tracing::error!(error = %other, "store error");
                ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

/// Result of a SCIM handler.
pub type ScimResult<T> = Result<T, ScimError>;
