//! The HTML a browser sees when a sign-in cannot go on: what happened, what to do, and a
//! reference to quote to an admin (the log line with the details carries the same reference).

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::i18n::{current, t, t_with};

/// The one script a page runs: submitting the SAML form. Allowed by its hash, so nothing
/// injected could run.
const SUBMIT_SCRIPT: &str = "document.forms[0].submit()";

static SUBMIT_CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, SUBMIT_SCRIPT.as_bytes());
    let policy = format!(
        "default-src 'none'; script-src 'sha256-{}'; frame-ancestors 'none'; base-uri 'none'",
        STANDARD.encode(hash)
    );
    HeaderValue::from_str(&policy).expect("a CSP header value")
});

/// Headers every page carries: no caching, no framing, no sniffing, no referrer to another
/// origin (the page's URL may carry a SAMLRequest or authorization parameters), and a content
/// policy. Not `no-referrer`: under it browsers send `Origin: null` with a form post, and the
/// sign-in steps check that their forms come from this origin.
fn page_headers(headers: &mut HeaderMap, policy: HeaderValue) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The most characters of a refusal's detail a log line or audit row keeps: a detail may quote
/// what the client sent (an unsigned status message, say).
pub const DETAIL_CHARS: usize = 200;

/// `detail` cut to at most `DETAIL_CHARS` characters, marked where it was cut.
pub fn shortened(detail: &str) -> String {
    match detail.char_indices().nth(DETAIL_CHARS) {
        Some((at, _)) => format!("{}…", &detail[..at]),
        None => detail.to_string(),
    }
}

/// An error page saying the message `message` (a catalogue key) in the request's language;
/// `detail` goes to the log only, under the reference shown.
pub fn error_page(status: StatusCode, message: &str, detail: &str) -> Response {
    error_page_referenced(status, message, detail).0
}

/// As [`error_page`], with the reference it shows (for a record that names it).
pub fn error_page_referenced(
    status: StatusCode,
    message: &str,
    detail: &str,
) -> (Response, String) {
    let reference = uuid::Uuid::new_v4().simple().to_string();
    let detail = shortened(detail);
    tracing::warn!(reference = %reference, status = status.as_u16(), message, detail, "sign-in refused");
    let body = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{message}</p><p>{label}: <code>{reference}</code></p></body></html>",
        lang = current().tag(),
        title = escape(&t("signin-failed-title")),
        message = escape(&t(message)),
        label = escape(&t("reference")),
    );
    let mut response = (status, Html(body)).into_response();
    page_headers(
        response.headers_mut(),
        HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    (response, reference)
}

/// A page that tells the person something that is not an error (`title` and `message` are
/// catalogue keys).
pub fn notice(title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{0}</title></head>\
         <body><h1>{0}</h1><p>{1}</p></body></html>",
        escape(&t(title)),
        escape(&t(message)),
        lang = current().tag(),
    );
    let mut response = Html(body).into_response();
    page_headers(
        response.headers_mut(),
        HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    response
}

/// A page that posts `fields` to `action` as soon as it loads (the SAML HTTP-POST binding).
pub fn auto_post(action: &str, fields: &[(&str, &str)]) -> Response {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><form method=\"post\" action=\"{action}\">{inputs}\
         <noscript><button type=\"submit\">{go}</button></noscript></form>\
         <script>{SUBMIT_SCRIPT}</script></body></html>",
        action = escape(action),
        lang = current().tag(),
        title = escape(&t("signin-signing-in")),
        go = escape(&t("signin-continue")),
    );
    let mut response = Html(body).into_response();
    page_headers(response.headers_mut(), SUBMIT_CSP.clone());
    response
}

/// What went wrong with a form's last submission (a catalogue key), shown above it (empty for
/// none).
pub fn alert(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p role=\"alert\"><strong>{}</strong></p>", escape(&t(e))))
        .unwrap_or_default()
}

/// A message with arguments in the request's language, escaped for a page.
pub fn say(key: &str, args: &[(&str, String)]) -> String {
    escape(&t_with(key, args))
}

/// As [`say`], with the arguments named in `strong` set in bold (names of apps and
/// organizations): each is formatted as a private-use marker, the text escaped, then the
/// markers replaced by the escaped argument.
pub fn say_strong(key: &str, args: &[(&str, String)], strong: &[&str]) -> String {
    let marker = |i: usize| format!("\u{E000}{i}\u{E001}");
    let marked: Vec<(&str, String)> = args
        .iter()
        .enumerate()
        .map(|(i, (name, value))| {
            let shown = if strong.contains(name) {
                marker(i)
            } else {
                value.clone()
            };
            (*name, shown)
        })
        .collect();
    let mut html = escape(&t_with(key, &marked));
    for (i, (name, value)) in args.iter().enumerate() {
        if strong.contains(name) {
            html = html.replace(&marker(i), &format!("<strong>{}</strong>", escape(value)));
        }
    }
    html
}

/// A page with a form of Lanyard's own (sign-in, consent, activation): `title` is a catalogue
/// key, `inner` HTML whose every value was escaped. Forms post to this server, which may then send the browser on to
/// the app (so no `form-action` limit: browsers apply it to that redirect too).
pub fn form_page(status: StatusCode, title: &str, inner: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{0}</title></head><body><main><h1>{0}</h1>{inner}</main></body></html>",
        escape(&t(title)),
        lang = current().tag(),
    );
    let mut response = (status, Html(body)).into_response();
    page_headers(
        response.headers_mut(),
        // Images only as data: URLs (a provider's sanitized logo).
        HeaderValue::from_static(
            "default-src 'none'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// The page for a sign-in the store could not serve.
pub fn store_failure(e: &lanyard_store::StoreError) -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "signin-unavailable",
        &e.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        let long = "é".repeat(DETAIL_CHARS + 50);
        let cut = shortened(&long);
        assert_eq!(cut.chars().count(), DETAIL_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shortened("short"), "short");
        let exact = "a".repeat(DETAIL_CHARS);
        assert_eq!(shortened(&exact), exact);
    }
}
