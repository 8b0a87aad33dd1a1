//! Who is at the console (the session behind the cookie, their permissions, their language)
//! and how a page is made: a template from `console/templates` with the layout's context.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use lanyard_store::{ConsoleSession, Organization};
use minijinja::value::{Kwargs, Value};
use minijinja::Environment;
use rust_embed::RustEmbed;

use super::ConsoleState;
use crate::auth::Principal;
use crate::i18n::Locale;
use crate::permissions;
use crate::urls::see_other;

#[derive(RustEmbed)]
#[folder = "console/templates"]
struct Templates;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for name in Templates::iter() {
        let file = Templates::get(&name).expect("an embedded template");
        let source = String::from_utf8(file.data.into_owned()).expect("templates are UTF-8");
        env.add_template_owned(name.to_string(), source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env
});

/// The policy of every console page: scripts and styles from the console's own files only,
/// no framing, forms posting back to Lanyard only.
const POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A signed-in person at the console.
pub struct Console {
    pub session: ConsoleSession,
    /// Whom the admin API sees: the operator, or the user with their roles' permissions.
    pub who: Principal,
    pub permissions: BTreeSet<String>,
    /// The organization worked in (an operator may not have chosen one yet).
    pub org: Option<Organization>,
    /// How the header names the signed-in person.
    pub name: String,
    pub locale: Locale,
    /// The path and query of this request, for links back to it.
    pub here: String,
}

impl Console {
    pub fn is_operator(&self) -> bool {
        matches!(self.who, Principal::Operator { .. })
    }

    pub fn holds(&self, permission: &str) -> bool {
        permissions::holds(&self.permissions, permission)
    }

    /// The organization's id for API paths; operators without one are sent to choose.
    pub fn org_id(&self) -> Result<&str, Response> {
        self.org
            .as_ref()
            .map(|o| o.id.as_str())
            .ok_or_else(|| see_other("/admin/orgs"))
    }

    /// Whether a posted form's token is this session's.
    pub fn csrf_ok(&self, token: &str) -> bool {
        !token.is_empty()
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                token.as_bytes(),
                self.session.csrf.as_bytes(),
            )
            .is_ok()
    }

    pub fn text(&self, key: &str) -> String {
        self.locale.text(key, &[])
    }
}

impl FromRequestParts<ConsoleState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Console, Response> {
        let here = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |u| u.0.clone());
        let here = here
            .path_and_query()
            .map_or("/admin".to_string(), |p| p.to_string());
        super::session::signed_in(state, &parts.headers, here).await
    }
}

/// The navigation: each entry shown only to those holding its permission.
fn navigation(c: &Console) -> Vec<Value> {
    let entries: [(&str, &str, Option<&str>); 7] = [
        ("/admin", "nav-home", None),
        ("/admin/sso", "nav-sso", Some(permissions::SSO_VIEW)),
        (
            "/admin/scim-tokens",
            "nav-scim-tokens",
            Some(permissions::TOKENS_MANAGE),
        ),
        ("/admin/apps", "nav-apps", Some(permissions::APPS_MANAGE)),
        ("/admin/roles", "nav-roles", Some(permissions::ROLES_MANAGE)),
        (
            "/admin/employees",
            "nav-employees",
            Some(permissions::EMPLOYEES_VIEW),
        ),
        ("/admin/audit", "nav-audit", Some(permissions::AUDIT_VIEW)),
    ];
    let path = c.here.split('?').next().unwrap_or("");
    entries
        .into_iter()
        .filter(|(_, _, needs)| c.org.is_some() && needs.is_none_or(|p| c.holds(p)))
        .map(|(href, key, _)| {
            let current = if href == "/admin" {
                path == "/admin" || path == "/admin/"
            } else {
                path.starts_with(href)
            };
            minijinja::context! { href, label => c.locale.text(key, &[]), current }
        })
        .collect()
}

/// The template functions that depend on the language: `t(key, name=value…)`, `date(time)`
/// (an RFC 3339 text or unix milliseconds), `num(n)`.
fn language_functions(locale: Locale) -> [(&'static str, Value); 3] {
    let t = Value::from_function(move |key: &str, kwargs: Kwargs| {
        let mut args = vec![];
        for name in kwargs.args() {
            let value: Value = kwargs.get(name)?;
            args.push((name, value.to_string()));
        }
        Ok::<_, minijinja::Error>(locale.text(key, &args))
    });
    let date = Value::from_function(move |v: Value| {
        let ms = if let Some(text) = v.as_str() {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .ok()
        } else {
            i64::try_from(v).ok()
        };
        ms.map_or_else(String::new, |ms| locale.datetime(ms))
    });
    let num = Value::from_function(move |n: i64| locale.number(n));
    [("t", t), ("date", date), ("num", num)]
}

fn layout_context(c: &Console) -> Vec<(&'static str, Value)> {
    let locales: Vec<Value> = Locale::ALL
        .into_iter()
        .map(|l| minijinja::context! { tag => l.tag(), name => l.native_name(), current => l == c.locale })
        .collect();
    let org = c.org.as_ref().map(|o| {
        minijinja::context! { id => o.id, short_name => o.short_name, display_name => o.display_name }
    });
    let mut out: Vec<(&'static str, Value)> = language_functions(c.locale).into();
    out.extend([
        ("lang", Value::from(c.locale.tag())),
        ("locales", Value::from(locales)),
        ("nav", Value::from(navigation(c))),
        ("csrf", Value::from(c.session.csrf.clone())),
        ("me", Value::from(c.name.clone())),
        ("operator", Value::from(c.is_operator())),
        ("org", Value::from(org)),
        ("here", Value::from(c.here.clone())),
    ]);
    out
}

fn with_headers(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Renders `template` over `values` and the base context; a template error is logged and
/// answered 500 (a defect, never input's fault).
pub fn render(template: &str, context: Vec<(&'static str, Value)>) -> String {
    let map: std::collections::BTreeMap<&str, Value> = context.into_iter().collect();
    match TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(Value::from_serialize(&map)))
    {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(template, error = %e, "a console template failed");
            "<!doctype html><title>Error</title><p>This page could not be shown.</p>".into()
        }
    }
}

/// A page of the signed-in console.
pub fn page(c: &Console, template: &str, values: Vec<(&'static str, Value)>) -> Response {
    page_with_status(c, StatusCode::OK, template, values)
}

pub fn page_with_status(
    c: &Console,
    status: StatusCode,
    template: &str,
    values: Vec<(&'static str, Value)>,
) -> Response {
    let mut context = layout_context(c);
    context.extend(values);
    with_headers(status, render(template, context))
}

/// A page for someone not signed in (sign-in, choosing a language).
pub fn public_page(locale: Locale, template: &str, values: Vec<(&'static str, Value)>) -> Response {
    let locales: Vec<Value> = Locale::ALL
        .into_iter()
        .map(|l| minijinja::context! { tag => l.tag(), name => l.native_name(), current => l == locale })
        .collect();
    let mut context: Vec<(&'static str, Value)> = language_functions(locale).into();
    context.push(("lang", Value::from(locale.tag())));
    context.push(("locales", Value::from(locales)));
    context.extend(values);
    with_headers(StatusCode::OK, render(template, context))
}

/// The page for a URL the signed-in person's roles do not reach.
pub fn forbidden(c: &Console) -> Response {
    page_with_status(c, StatusCode::FORBIDDEN, "forbidden.html", vec![])
}

/// Refuses unless the person holds `permission`.
pub fn require(c: &Console, permission: &str) -> Result<(), Response> {
    if c.holds(permission) {
        Ok(())
    } else {
        Err(forbidden(c))
    }
}

/// Refuses a form posted without this session's CSRF token: nothing is changed.
pub fn check_csrf(c: &Console, token: &str) -> Result<(), Response> {
    if c.csrf_ok(token) {
        Ok(())
    } else {
        tracing::warn!(session = %c.session.id, "console form posted without its CSRF token");
        Err(page_with_status(
            c,
            StatusCode::FORBIDDEN,
            "csrf.html",
            vec![],
        ))
    }
}

/// The page for an API refusal that has no form to show it beside (a list that could not be
/// read, say): the API's message under the status's heading.
pub fn failure(c: &Console, e: super::ApiFailure) -> Response {
    let status = e.status;
    if status == StatusCode::FORBIDDEN {
        return forbidden(c);
    }
    page_with_status(
        c,
        status,
        "failure.html",
        vec![("message", Value::from(e.message))],
    )
}

/// An address inside the console with a notice to show (`?notice=<key>`).
pub fn back(path: &str, notice: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    see_other(&format!("{path}{sep}notice={notice}"))
}

/// The notice a redirect asked to show, if it is one of the known ones (never free text from
/// the URL).
pub fn notice(c: &Console, query: Option<&str>) -> Value {
    const KNOWN: &[&str] = &[
        "saved", "created", "deleted", "revoked", "removed", "added", "rotated", "invited",
    ];
    query
        .filter(|n| KNOWN.contains(n))
        .map_or(Value::from(()), |n| {
            Value::from(c.locale.text(&format!("notice-{n}"), &[]))
        })
}

/// Any unknown `/admin` address.
pub async fn not_found(headers: HeaderMap) -> Response {
    let locale = Locale::of_request(&headers);
    let mut response = public_page(locale, "not_found.html", vec![]);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
