//! The audit log, newest first, with filters by actor, action and time.

use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::value::Value;
use serde::Deserialize;

use super::render::{self, page, require, Console};
use super::ConsoleState;
use crate::permissions::AUDIT_VIEW;
use crate::urls::with_query;

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// A day (`2026-12-01`) from a date picker, or an RFC 3339 time.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    page: i64,
}

/// A date picker's day as the start of that day (UTC); anything else as it came.
fn day(value: &str, next_day: bool) -> String {
    let parts: Vec<&str> = value.split('-').collect();
    let date = match parts[..] {
        [y, m, d] if value.len() == 10 => (|| {
            let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
            time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
        })(),
        _ => None,
    };
    match date {
        Some(d) => {
            let d = if next_day {
                d.next_day().unwrap_or(d)
            } else {
                d
            };
            format!("{d}T00:00:00Z")
        }
        None => value.to_string(),
    }
}

pub async fn list(
    State(state): State<ConsoleState>,
    c: Console,
    Query(q): Query<AuditQuery>,
) -> Response {
    if let Err(page) = require(&c, AUDIT_VIEW) {
        return page;
    }
    let org = match c.org_id() {
        Ok(org) => org,
        Err(to) => return to,
    };
    let page_no = q.page.max(0);
    let offset = (page_no * PAGE).to_string();
    let limit = PAGE.to_string();
    let since = day(q.since.trim(), false);
    // "Until" a day includes that day.
    let until = day(q.until.trim(), true);
    let mut params = vec![("limit", limit.as_str()), ("offset", offset.as_str())];
    for (name, value) in [
        ("actor", q.actor.trim()),
        ("action", q.action.trim()),
        ("since", since.as_str()),
        ("until", until.as_str()),
    ] {
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    let path = with_query(&format!("/orgs/{org}/audit"), &params);
    let (list, error) = match state.get(&c, &path).await {
        Ok(list) => (list, None),
        Err(e) if e.status.is_client_error() && e.status.as_u16() != 403 => (
            serde_json::json!({ "items": [], "total": 0 }),
            Some(e.message),
        ),
        Err(e) => return render::failure(&c, e),
    };
    let total = list["total"].as_i64().unwrap_or(0);
    let filters = [
        ("actor", q.actor.as_str()),
        ("action", q.action.as_str()),
        ("since", q.since.as_str()),
        ("until", q.until.as_str()),
    ];
    let link = |p: i64| {
        let page = p.to_string();
        let mut params: Vec<(&str, &str)> = filters
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .copied()
            .collect();
        params.push(("page", &page));
        with_query("/admin/audit", &params)
    };
    page(
        &c,
        "audit.html",
        vec![
            ("records", Value::from_serialize(&list["items"])),
            ("total", Value::from(total)),
            (
                "filter",
                Value::from_serialize(serde_json::json!({
                    "actor": q.actor, "action": q.action, "since": q.since, "until": q.until,
                })),
            ),
            (
                "previous",
                Value::from((page_no > 0).then(|| link(page_no - 1))),
            ),
            (
                "next",
                Value::from(((page_no + 1) * PAGE < total).then(|| link(page_no + 1))),
            ),
            ("error", Value::from(error)),
        ],
    )
}
