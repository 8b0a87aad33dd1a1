//! `/docs`: where a newcomer finds each surface — the console, the admin API's OpenAPI
//! document, OpenID Connect discovery and SCIM's own description — in their language.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use minijinja::value::Value;

use super::render::public_page;
use super::ConsoleState;
use crate::i18n::Locale;

pub async fn index(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    let scim_base = state.app.public_url.join("/scim/v2");
    public_page(
        Locale::of_request(&headers),
        "docs.html",
        vec![("scim_base", Value::from(scim_base))],
    )
}
