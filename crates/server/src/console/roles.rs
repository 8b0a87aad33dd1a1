//! Security > Roles and Permissions: each role with a toggle per permission (SCIM included),
//! the role provisioned users receive marked as such, and a new role.

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use minijinja::value::Value;
use serde::Deserialize;
use serde_json::json;

use super::forms::{posted, Fields};
use super::ids::Id;
use super::render::{self, back, page, require, Console};
use super::ConsoleState;
use crate::permissions::{self, ROLES_MANAGE};

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// Permissions in the groups the seeds' screens show them in.
fn groups(c: &Console) -> Vec<Value> {
    let grouped: [(&str, &[&str]); 4] = [
        ("perm-group-sso", &permissions::ALL[0..4]),
        (
            "perm-group-general",
            &[permissions::SCIM, permissions::AUDIT_VIEW],
        ),
        (
            "perm-group-employees",
            &[
                permissions::EMPLOYEES_VIEW,
                permissions::EMPLOYEES_CREATE,
                permissions::EMPLOYEES_EDIT,
                permissions::ROLES_MANAGE,
            ],
        ),
        (
            "perm-group-integrations",
            &[permissions::TOKENS_MANAGE, permissions::APPS_MANAGE],
        ),
    ];
    grouped
        .iter()
        .map(|(key, names)| {
            let items: Vec<Value> = names
                .iter()
                .map(|name| {
                    let label_key = format!("perm-{}", name.replace('.', "-"));
                    minijinja::context! { name, label => c.locale.text(&label_key, &[]) }
                })
                .collect();
            minijinja::context! { label => c.locale.text(key, &[]), items }
        })
        .collect()
}

async fn roles_page(
    state: &ConsoleState,
    c: &Console,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let Some(org) = c.org.as_ref() else {
        return crate::urls::see_other("/admin/orgs");
    };
    match state.get(c, &format!("/orgs/{}/roles", org.id)).await {
        Ok(list) => page(
            c,
            "roles.html",
            vec![
                ("roles", Value::from_serialize(&list["items"])),
                ("groups", Value::from(groups(c))),
                (
                    "provisioning_role",
                    Value::from(org.settings.default_provisioning_role.clone()),
                ),
                ("error", Value::from(error)),
                ("notice", render::notice(c, notice)),
            ],
        ),
        Err(e) => render::failure(c, e),
    }
}

pub async fn list(
    State(state): State<ConsoleState>,
    c: Console,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(page) = require(&c, ROLES_MANAGE) {
        return page;
    }
    roles_page(&state, &c, None, q.notice.as_deref()).await
}

fn role_body(fields: &Fields) -> serde_json::Value {
    json!({
        "name": fields.text("name"),
        "description": fields.text("description"),
        "permissions": fields.all("permissions"),
    })
}

pub async fn create(
    State(state): State<ConsoleState>,
    c: Console,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, ROLES_MANAGE).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state
        .post(&c, &format!("/orgs/{org}/roles"), role_body(&fields))
        .await
    {
        Ok(_) => back("/admin/roles", "created"),
        Err(e) => roles_page(&state, &c, Some(e.message), None).await,
    }
}

pub async fn save(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, ROLES_MANAGE).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state
        .patch(&c, &format!("/orgs/{org}/roles/{id}"), role_body(&fields))
        .await
    {
        Ok(_) => back("/admin/roles", "saved"),
        Err(e) => roles_page(&state, &c, Some(e.message), None).await,
    }
}
