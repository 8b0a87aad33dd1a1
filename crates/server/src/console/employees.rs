//! Employees: the list with search and paging, create (people and service accounts), edit,
//! deactivate; and each one's Security tab with access keys (a service account's; the secret
//! shown once) and the invitation (seed 002).

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use minijinja::value::Value;
use serde::Deserialize;
use serde_json::json;

use super::forms::{delete_action, posted, Button, Fields};
use super::ids::{Id, Ids};
use super::render::{self, back, page, require, Console};
use super::ConsoleState;
use crate::permissions::{EMPLOYEES_CREATE, EMPLOYEES_EDIT, EMPLOYEES_VIEW, TOKENS_MANAGE};
use crate::urls::with_query;

const PAGE: i64 = 25;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: i64,
    notice: Option<String>,
}

/// The organization's roles, for the role checkboxes.
async fn roles(state: &ConsoleState, c: &Console, org: &str) -> Value {
    match state.get(c, &format!("/orgs/{org}/roles")).await {
        Ok(list) => Value::from_serialize(&list["items"]),
        Err(_) => Value::from(Vec::<Value>::new()),
    }
}

async fn list_page(
    state: &ConsoleState,
    c: &Console,
    q: ListQuery,
    form: serde_json::Value,
    error: Option<String>,
) -> Response {
    let org = match c.org_id() {
        Ok(org) => org,
        Err(to) => return to,
    };
    let page_no = q.page.max(0);
    let (limit, offset) = (PAGE.to_string(), (page_no * PAGE).to_string());
    let mut params = vec![("limit", limit.as_str()), ("offset", offset.as_str())];
    if !q.q.trim().is_empty() {
        params.push(("q", q.q.trim()));
    }
    let list = match state
        .get(c, &with_query(&format!("/orgs/{org}/users"), &params))
        .await
    {
        Ok(list) => list,
        Err(e) => return render::failure(c, e),
    };
    let total = list["total"].as_i64().unwrap_or(0);
    let link = |p: i64| {
        let page = p.to_string();
        with_query("/admin/employees", &[("q", q.q.trim()), ("page", &page)])
    };
    page(
        c,
        "employees.html",
        vec![
            ("users", Value::from_serialize(&list["items"])),
            ("total", Value::from(total)),
            ("q", Value::from(q.q.clone())),
            (
                "previous",
                Value::from((page_no > 0).then(|| link(page_no - 1))),
            ),
            (
                "next",
                Value::from(((page_no + 1) * PAGE < total).then(|| link(page_no + 1))),
            ),
            ("roles", roles(state, c, org).await),
            ("form", Value::from_serialize(&form)),
            ("error", Value::from(error)),
            ("notice", render::notice(c, q.notice.as_deref())),
            ("can_create", Value::from(c.holds(EMPLOYEES_CREATE))),
        ],
    )
}

pub async fn list(
    State(state): State<ConsoleState>,
    c: Console,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(page) = require(&c, EMPLOYEES_VIEW) {
        return page;
    }
    list_page(&state, &c, q, json!({}), None).await
}

/// The person fields of a form, as the API names them (empty ones left out on create, sent as
/// `null` on edit so they can be cleared).
fn person(fields: &Fields, clearing: bool) -> serde_json::Value {
    let mut body = json!({
        "user_name": fields.text("user_name"),
        "roles": fields.all("roles"),
    });
    for name in ["email", "given_name", "family_name", "display_name"] {
        match fields.optional(name) {
            Some(v) => body[name] = json!(v),
            None if clearing => body[name] = serde_json::Value::Null,
            None => {}
        }
    }
    body
}

pub async fn create(
    State(state): State<ConsoleState>,
    c: Console,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, EMPLOYEES_CREATE).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let body = person(&fields, false);
    let service = fields.text("kind") == "service";
    let path = if service {
        format!("/orgs/{org}/service-accounts")
    } else {
        format!("/orgs/{org}/users")
    };
    match state.post(&c, &path, body.clone()).await {
        Ok(created) => {
            let id = created["id"].as_str().unwrap_or("");
            let to = if service {
                format!("/admin/employees/{id}/security")
            } else {
                format!("/admin/employees/{id}")
            };
            back(&to, "created")
        }
        Err(e) => {
            let mut form = body;
            form["kind"] = json!(fields.text("kind"));
            list_page(&state, &c, ListQuery::default(), form, Some(e.message)).await
        }
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// One employee's page (`tab`: `profile` or `security`), with what only that tab needs.
async fn person_page(
    state: &ConsoleState,
    c: &Console,
    id: &str,
    tab: &str,
    extra: Vec<(&'static str, Value)>,
) -> Response {
    let org = match c.org_id() {
        Ok(org) => org,
        Err(to) => return to,
    };
    let user = match state.get(c, &format!("/orgs/{org}/users/{id}")).await {
        Ok(user) => user,
        Err(e) => return render::failure(c, e),
    };
    let mut values = vec![
        ("user", Value::from_serialize(&user)),
        ("tab", Value::from(tab)),
        ("can_edit", Value::from(c.holds(EMPLOYEES_EDIT))),
        ("can_keys", Value::from(c.holds(TOKENS_MANAGE))),
    ];
    if tab == "profile" {
        values.push(("roles", roles(state, c, org).await));
    } else if user["kind"] == "service" && c.holds(TOKENS_MANAGE) {
        let keys = state
            .get(c, &format!("/orgs/{org}/service-accounts/{id}/access-keys"))
            .await
            .map(|list| list["items"].clone())
            .unwrap_or_default();
        values.push(("keys", Value::from_serialize(&keys)));
    }
    values.extend(extra);
    page(c, "employee.html", values)
}

pub async fn show(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(page) = require(&c, EMPLOYEES_VIEW) {
        return page;
    }
    let notice = render::notice(&c, q.notice.as_deref());
    person_page(&state, &c, &id, "profile", vec![("notice", notice)]).await
}

pub async fn security(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(page) = require(&c, EMPLOYEES_VIEW) {
        return page;
    }
    let notice = render::notice(&c, q.notice.as_deref());
    person_page(&state, &c, &id, "security", vec![("notice", notice)]).await
}

pub async fn save(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, EMPLOYEES_EDIT).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    // The deactivate button sends only that; the profile form sends the whole person.
    let body = if fields.text("action") == "deactivate" {
        json!({ "active": false })
    } else if fields.text("action") == "activate" {
        json!({ "active": true })
    } else {
        person(&fields, true)
    };
    match state
        .patch(&c, &format!("/orgs/{org}/users/{id}"), body)
        .await
    {
        Ok(_) => back(&format!("/admin/employees/{id}"), "saved"),
        Err(e) => {
            let error = vec![("error", Value::from(e.message))];
            person_page(&state, &c, &id, "profile", error).await
        }
    }
}

pub async fn add_key(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, TOKENS_MANAGE).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let uris: Vec<String> = fields
        .text("redirect_uris")
        .split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let body = json!({ "redirect_uris": uris });
    let path = format!("/orgs/{org}/service-accounts/{id}/access-keys");
    let extra = match state.post(&c, &path, body).await {
        Ok(created) => vec![("new_key", Value::from_serialize(&created))],
        Err(e) => vec![("error", Value::from(e.message))],
    };
    person_page(&state, &c, &id, "security", extra).await
}

pub async fn delete_key(
    State(state): State<ConsoleState>,
    c: Console,
    Ids(id, key): Ids,
    axum::extract::Form(form): axum::extract::Form<Button>,
) -> Response {
    let path = format!("/service-accounts/{id}/access-keys/{key}");
    match delete_action(&state, &c, &form.csrf, TOKENS_MANAGE, path).await {
        Ok(()) => back(&format!("/admin/employees/{id}/security"), "deleted"),
        Err(page) => page,
    }
}

pub async fn invite(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    multipart: Multipart,
) -> Response {
    let (_, org) = match posted(&c, multipart, EMPLOYEES_EDIT).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let path = format!("/orgs/{org}/users/{id}/invitation");
    let extra = match state.post(&c, &path, json!({})).await {
        Ok(invitation) => vec![("invitation", Value::from_serialize(&invitation))],
        Err(e) => vec![("error", Value::from(e.message))],
    };
    person_page(&state, &c, &id, "security", extra).await
}
