//! Apps & Integrations: SCIM Tokens (seed 004: "+ New", the token shown once beside the SCIM
//! endpoint, the list with last use, revoke) and the developer portal for OAuth clients
//! (seed 001's fields; the secret shown once).

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use minijinja::value::Value;
use serde::Deserialize;
use serde_json::json;

use super::forms::{delete_action, posted, Button};
use super::ids::Id;
use super::render::{self, back, page, require, Console};
use super::ConsoleState;
use crate::permissions::{APPS_MANAGE, TOKENS_MANAGE};

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn scim_page(
    state: &ConsoleState,
    c: &Console,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let org = match c.org_id() {
        Ok(org) => org,
        Err(to) => return to,
    };
    match state.get(c, &format!("/orgs/{org}/scim-tokens")).await {
        Ok(list) => page(
            c,
            "scim_tokens.html",
            vec![
                ("tokens", Value::from_serialize(&list["items"])),
                ("endpoint", Value::from(state.app.public_url.scim_base())),
                ("error", Value::from(error)),
                ("notice", render::notice(c, notice)),
            ],
        ),
        Err(e) => render::failure(c, e),
    }
}

pub async fn scim_list(
    State(state): State<ConsoleState>,
    c: Console,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(page) = require(&c, TOKENS_MANAGE) {
        return page;
    }
    scim_page(&state, &c, None, q.notice.as_deref()).await
}

/// A date from a date picker (`2027-01-31`) as the API's RFC 3339 time (that day's start, UTC).
fn day_start(date: Option<String>) -> Option<String> {
    date.map(|d| {
        if d.len() == 10 {
            format!("{d}T00:00:00Z")
        } else {
            d
        }
    })
}

pub async fn scim_create(
    State(state): State<ConsoleState>,
    c: Console,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, TOKENS_MANAGE).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = json!({ "name": fields.text("name") });
    if let Some(expires) = day_start(fields.optional("expires_at")) {
        body["expires_at"] = json!(expires);
    }
    match state
        .post(&c, &format!("/orgs/{org}/scim-tokens"), body)
        .await
    {
        Ok(created) => page(
            &c,
            "scim_token_new.html",
            vec![("created", Value::from_serialize(&created))],
        ),
        Err(e) => scim_page(&state, &c, Some(e.message), None).await,
    }
}

pub async fn scim_revoke(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    axum::extract::Form(form): axum::extract::Form<Button>,
) -> Response {
    let path = format!("/scim-tokens/{id}");
    match delete_action(&state, &c, &form.csrf, TOKENS_MANAGE, path).await {
        Ok(()) => back("/admin/scim-tokens", "revoked"),
        Err(page) => page,
    }
}

async fn apps_page(
    state: &ConsoleState,
    c: &Console,
    form: serde_json::Value,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let Some(org) = c.org.as_ref() else {
        return crate::urls::see_other("/admin/orgs");
    };
    match state
        .get(c, &format!("/orgs/{}/oauth-clients", org.id))
        .await
    {
        Ok(list) => page(
            c,
            "apps.html",
            vec![
                ("clients", Value::from_serialize(&list["items"])),
                ("form", Value::from_serialize(&form)),
                ("business_unit_id", Value::from(org.business_unit_id)),
                ("error", Value::from(error)),
                ("notice", render::notice(c, notice)),
                (
                    "token_endpoint",
                    Value::from(state.app.public_url.join("/auth/token")),
                ),
                (
                    "authorization_endpoint",
                    Value::from(state.app.public_url.join("/auth/authorize")),
                ),
            ],
        ),
        Err(e) => render::failure(c, e),
    }
}

pub async fn apps_list(
    State(state): State<ConsoleState>,
    c: Console,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(page) = require(&c, APPS_MANAGE) {
        return page;
    }
    apps_page(&state, &c, json!({}), None, q.notice.as_deref()).await
}

/// Lines or commas of a text box as a list.
fn list_of(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn apps_create(
    State(state): State<ConsoleState>,
    c: Console,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, APPS_MANAGE).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = json!({
        "name": fields.text("name"),
        "description": fields.text("description"),
        "contacts": list_of(&fields.text("contacts")),
        "kind": fields.text("kind"),
        "type": fields.text("type"),
        "redirect_uris": list_of(&fields.text("redirect_uris")),
        "scopes": fields.all("scopes"),
        "fedramp": fields.checked("fedramp"),
    });
    if let Some(method) = fields.optional("token_endpoint_auth_method") {
        body["token_endpoint_auth_method"] = json!(method);
    }
    if let Some(uri) = fields.optional("initiate_login_uri") {
        body["initiate_login_uri"] = json!(uri);
    }
    if fields.text("type") == "backend" {
        body.as_object_mut().map(|b| b.remove("redirect_uris"));
    }
    match state
        .post(&c, &format!("/orgs/{org}/oauth-clients"), body.clone())
        .await
    {
        Ok(created) => page(
            &c,
            "app_new.html",
            vec![("created", Value::from_serialize(&created))],
        ),
        Err(e) => {
            body["redirect_uris_text"] = json!(fields.text("redirect_uris"));
            body["contacts_text"] = json!(fields.text("contacts"));
            apps_page(&state, &c, body, Some(e.message), None).await
        }
    }
}

pub async fn apps_rotate(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, APPS_MANAGE).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let hours: Option<i64> = fields
        .optional("previous_secret_valid_hours")
        .and_then(|h| h.parse().ok());
    let body = json!({ "previous_secret_valid_hours": hours });
    match state
        .post(&c, &format!("/orgs/{org}/oauth-clients/{id}/secret"), body)
        .await
    {
        Ok(created) => page(
            &c,
            "app_new.html",
            vec![
                ("created", Value::from_serialize(&created)),
                ("rotated", Value::from(true)),
            ],
        ),
        Err(e) => apps_page(&state, &c, json!({}), Some(e.message), None).await,
    }
}

pub async fn apps_revoke(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    axum::extract::Form(form): axum::extract::Form<Button>,
) -> Response {
    let path = format!("/oauth-clients/{id}");
    match delete_action(&state, &c, &form.csrf, APPS_MANAGE, path).await {
        Ok(()) => back("/admin/apps", "revoked"),
        Err(page) => page,
    }
}
