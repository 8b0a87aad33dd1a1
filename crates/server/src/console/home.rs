//! The home page: what needs an admin's attention — certificates expiring within 30 days,
//! SCIM tokens and access keys unused for 90 days — each shown only to those who may act on it.

use axum::extract::State;
use axum::response::Response;
use minijinja::value::Value;
use serde_json::json;

use super::render::{page, Console};
use super::sso::flag_certificates;
use super::ConsoleState;
use crate::permissions::{SSO_VIEW, TOKENS_MANAGE};
use crate::urls::see_other;

const UNUSED_DAYS: i64 = 90;

fn millis(rfc3339: &serde_json::Value) -> Option<i64> {
    let text = rfc3339.as_str()?;
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Live credentials (not revoked) last used — or, never used, made — before `before`.
fn unused(items: &serde_json::Value, before: i64) -> Vec<serde_json::Value> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["revoked_at"].is_null())
        .filter(|item| {
            let last = millis(&item["last_used_at"]).or_else(|| millis(&item["created_at"]));
            last.is_some_and(|t| t < before)
        })
        .cloned()
        .collect()
}

async fn expiring(state: &ConsoleState, c: &Console, org: &str) -> Vec<serde_json::Value> {
    let Ok(list) = state.get(c, &format!("/orgs/{org}/sso-connections")).await else {
        return vec![];
    };
    let mut out = vec![];
    for mut conn in list["items"].as_array().cloned().unwrap_or_default() {
        flag_certificates(&mut conn);
        for cert in conn["certificates"].as_array().into_iter().flatten() {
            if cert["expiring"] == true || cert["expired"] == true {
                out.push(json!({
                    "connection_id": conn["id"], "connection": conn["name"],
                    "subject": cert["subject"], "not_after": cert["not_after"],
                    "expired": cert["expired"],
                }));
            }
        }
    }
    out
}

async fn stale_keys(
    state: &ConsoleState,
    c: &Console,
    org: &str,
    before: i64,
) -> Vec<serde_json::Value> {
    let Ok(accounts) = state
        .get(c, &format!("/orgs/{org}/service-accounts?limit=200"))
        .await
    else {
        return vec![];
    };
    let mut out = vec![];
    for account in accounts["items"].as_array().into_iter().flatten() {
        let id = account["id"].as_str().unwrap_or_default();
        if let Ok(keys) = state
            .get(c, &format!("/orgs/{org}/service-accounts/{id}/access-keys"))
            .await
        {
            for mut key in unused(&keys["items"], before) {
                key["account"] = account["user_name"].clone();
                out.push(key);
            }
        }
    }
    out
}

pub async fn home(State(state): State<ConsoleState>, c: Console) -> Response {
    let Some(org) = c.org.as_ref().map(|o| o.id.clone()) else {
        return see_other("/admin/orgs");
    };
    let before = lanyard_store::now_ms() - UNUSED_DAYS * 86_400_000;
    let certificates = if c.holds(SSO_VIEW) {
        expiring(&state, &c, &org).await
    } else {
        vec![]
    };
    let (tokens, keys) = if c.holds(TOKENS_MANAGE) {
        let tokens = match state.get(&c, &format!("/orgs/{org}/scim-tokens")).await {
            Ok(list) => unused(&list["items"], before),
            Err(_) => vec![],
        };
        (tokens, stale_keys(&state, &c, &org, before).await)
    } else {
        (vec![], vec![])
    };
    page(
        &c,
        "home.html",
        vec![
            ("certificates", Value::from_serialize(&certificates)),
            ("tokens", Value::from_serialize(&tokens)),
            ("keys", Value::from_serialize(&keys)),
            (
                "scim_endpoint",
                Value::from(state.app.public_url.scim_base()),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_means_live_and_neither_used_nor_made_since() {
        let before = millis(&json!("2026-09-01T00:00:00Z")).unwrap();
        let items = json!([
            {"id": "used-long-ago", "last_used_at": "2026-05-01T00:00:00Z", "created_at": "2026-01-01T00:00:00Z", "revoked_at": null},
            {"id": "used-lately", "last_used_at": "2026-11-30T00:00:00Z", "created_at": "2026-01-01T00:00:00Z", "revoked_at": null},
            {"id": "never-used-old", "last_used_at": null, "created_at": "2026-02-01T00:00:00Z", "revoked_at": null},
            {"id": "never-used-new", "last_used_at": null, "created_at": "2026-11-01T00:00:00Z", "revoked_at": null},
            {"id": "revoked", "last_used_at": "2026-05-01T00:00:00Z", "created_at": "2026-01-01T00:00:00Z", "revoked_at": "2026-06-01T00:00:00Z"},
        ]);
        let ids: Vec<_> = unused(&items, before)
            .into_iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["used-long-ago", "never-used-old"]);
    }
}
