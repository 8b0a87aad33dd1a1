//! A connection's logo: taken from the form's file picker, served back under a policy of its
//! own (an SVG opened directly is a document: it gets no script, no network, a sandbox).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::forms::Fields;
use super::ids::Id;
use super::render::{require, Console};
use super::ConsoleState;
use crate::permissions::SSO_VIEW;

/// The uploaded logo's text, if a file was chosen (the API sanitizes and may refuse it).
pub fn from_fields(fields: &Fields) -> Option<String> {
    fields
        .files("logo")
        .first()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
}

pub async fn serve(State(state): State<ConsoleState>, c: Console, Id(id): Id) -> Response {
    if let Err(page) = require(&c, SSO_VIEW) {
        return page;
    }
    let Some(org) = c.org.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(conn) = state.app.store.get_sso_connection(&org.id, &id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Sanitized again as it leaves: a logo stored before a rule was added obeys it too.
    let Some(svg) = conn
        .logo_svg
        .and_then(|stored| crate::svg::sanitize(&stored).ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = svg.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}
