//! Integrations > Single Sign-on: a tab per kind of IdP (Okta, Entra ID, Generic SSO
//! Provider), the connection's fields (seeds 000 and 003), its certificates, metadata import,
//! the values to paste into the IdP, and the connection's recent sign-in failures.

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use base64::Engine;
use lanyard_store::AuditFilter;
use minijinja::value::Value;
use serde::Deserialize;
use serde_json::json;

use super::forms::{certificates, posted, Button, Fields};
use super::ids::{Id, Ids};
use super::render::{self, back, check_csrf, page, require, Console};
use super::ConsoleState;
use crate::permissions::{SSO_ADD, SSO_DELETE, SSO_EDIT, SSO_VIEW};

/// The tabs, each with the kinds of connection it shows (PureConnect is a generic IdP).
const TABS: [(&str, &[&str]); 3] = [
    ("okta", &["okta"]),
    ("entra", &["entra"]),
    ("generic", &["generic", "pureconnect"]),
];

/// A connection's certificates expiring within this many days are flagged.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

#[derive(Deserialize)]
pub struct ListQuery {
    kind: Option<String>,
    notice: Option<String>,
}

fn tab_of(kind: &str) -> &'static str {
    TABS.iter()
        .find(|(_, kinds)| kinds.contains(&kind))
        .map_or("generic", |(tab, _)| tab)
}

/// Marks each certificate of a connection's JSON as expired or expiring soon.
pub fn flag_certificates(connection: &mut serde_json::Value) {
    let now = lanyard_store::now_ms();
    if let Some(certs) = connection["certificates"].as_array_mut() {
        for cert in certs {
            let not_after = cert["not_after"]
                .as_str()
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
            cert["expired"] = json!(not_after <= now);
            cert["expiring"] =
                json!(not_after > now && not_after - now < EXPIRY_WARNING_DAYS * 86_400_000);
        }
    }
}

/// The list page with the tab `kind`, a new connection's form (`form`, filled when it comes
/// back refused or from imported metadata) and an error to show beside it.
async fn list_page(
    state: &ConsoleState,
    c: &Console,
    kind: &str,
    form: serde_json::Value,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let org = match c.org_id() {
        Ok(org) => org,
        Err(to) => return to,
    };
    let all = match state.get(c, &format!("/orgs/{org}/sso-connections")).await {
        Ok(list) => list,
        Err(e) => return render::failure(c, e),
    };
    let tab = tab_of(kind);
    let kinds = TABS
        .iter()
        .find(|(t, _)| *t == tab)
        .map_or(&[][..], |t| t.1);
    let mut shown: Vec<serde_json::Value> = all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|conn| kinds.contains(&conn["kind"].as_str().unwrap_or("")))
        .cloned()
        .collect();
    shown.iter_mut().for_each(flag_certificates);
    let tabs: Vec<Value> = TABS
        .iter()
        .map(|(t, _)| {
            minijinja::context! {
                kind => t, label => c.locale.text(&format!("sso-tab-{t}"), &[]), current => *t == tab,
            }
        })
        .collect();
    let form_kind = form["kind"].as_str().unwrap_or(kinds[0]).to_string();
    page(
        c,
        "sso_list.html",
        vec![
            ("tabs", Value::from(tabs)),
            ("tab", Value::from(tab)),
            ("connections", Value::from_serialize(&shown)),
            ("form", Value::from_serialize(&form)),
            ("form_kind", Value::from(form_kind)),
            ("error", Value::from(error)),
            ("notice", render::notice(c, notice)),
            ("can_add", Value::from(c.holds(SSO_ADD))),
        ],
    )
}

pub async fn list(
    State(state): State<ConsoleState>,
    c: Console,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(page) = require(&c, SSO_VIEW) {
        return page;
    }
    let kind = q.kind.as_deref().unwrap_or("okta");
    list_page(&state, &c, kind, json!({}), None, q.notice.as_deref()).await
}

/// The connection fields of a form as the API names them.
fn connection_body(fields: &Fields) -> serde_json::Value {
    let mut body = json!({
        "name": fields.text("name"),
        "idp_entity_id": fields.text("idp_entity_id"),
        "sso_url": fields.text("sso_url"),
        "endpoint_compression": fields.checked("endpoint_compression"),
        "allow_idp_initiated": fields.checked("allow_idp_initiated"),
    });
    if let Some(sp) = fields.optional("sp_entity_id") {
        body["sp_entity_id"] = json!(sp);
    }
    body
}

pub async fn create(
    State(state): State<ConsoleState>,
    c: Console,
    multipart: Multipart,
) -> Response {
    let (fields, org) = match posted(&c, multipart, SSO_ADD).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let kind = fields.text("kind");
    let mut body = connection_body(&fields);
    body["kind"] = json!(kind);
    body["certificates"] = json!(certificates(&fields, "certificate_file", "certificate"));
    if let Some(logo) = super::logo::from_fields(&fields) {
        body["logo_svg"] = json!(logo);
    }
    match state
        .post(&c, &format!("/orgs/{org}/sso-connections"), body.clone())
        .await
    {
        Ok(created) => back(
            &format!("/admin/sso/{}", created["id"].as_str().unwrap_or("")),
            "created",
        ),
        Err(e) => {
            body["certificate_text"] = json!(fields.text("certificate"));
            list_page(&state, &c, &kind, body, Some(e.message), None).await
        }
    }
}

/// Metadata XML (a file or pasted) read into a new connection's form, for the admin to check
/// and save.
pub async fn import(
    State(state): State<ConsoleState>,
    c: Console,
    multipart: Multipart,
) -> Response {
    let (fields, _) = match posted(&c, multipart, SSO_ADD).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let kind = fields.text("kind");
    let xml = fields
        .files("metadata_file")
        .first()
        .map(|f| f.to_vec())
        .unwrap_or_else(|| fields.text("metadata").into_bytes());
    let text = String::from_utf8_lossy(&xml);
    let form = match crate::api::sso_fields::imported(Some(&text)) {
        Ok(found) => {
            let pems: Vec<String> = found
                .certificates
                .unwrap_or_default()
                .iter()
                .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .map(|der| pem(&der))
                .collect();
            json!({
                "kind": kind,
                "idp_entity_id": found.idp_entity_id,
                "sso_url": found.sso_url,
                "endpoint_compression": found.endpoint_compression,
                "certificate_text": pems.join("\n"),
            })
        }
        Err(e) => {
            let reason = e.message.trim_start_matches("idp_metadata: ").to_string();
            let message = c.locale.text("sso-import-failed", &[("reason", reason)]);
            return list_page(&state, &c, &kind, json!({}), Some(message), None).await;
        }
    };
    list_page(&state, &c, &kind, form, None, None).await
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
        lines.join("\n")
    )
}

#[derive(Deserialize)]
pub struct ShowQuery {
    notice: Option<String>,
}

/// One connection: its form, certificates, the panel for the IdP and recent failures.
async fn show_page(
    state: &ConsoleState,
    c: &Console,
    id: &str,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let Some(org) = c.org.as_ref() else {
        return crate::urls::see_other("/admin/orgs");
    };
    let mut conn = match state
        .get(c, &format!("/orgs/{}/sso-connections/{id}", org.id))
        .await
    {
        Ok(conn) => conn,
        Err(e) => return render::failure(c, e),
    };
    flag_certificates(&mut conn);
    let filter = AuditFilter {
        action: Some("sso.sign_in_failed".into()),
        target: Some(id.to_string()),
        ..AuditFilter::default()
    };
    // The reasons name people (the e-mail an assertion carried): they are the audit log's, and
    // shown to those who may read it.
    let may_read_failures = c.holds(crate::permissions::AUDIT_VIEW);
    let found = if may_read_failures {
        state.app.store.list_audit(&org.id, &filter, 10, 0).await
    } else {
        Ok(lanyard_store::Page {
            items: vec![],
            total: 0,
        })
    };
    let failures = match found {
        Ok(page) => page
            .items
            .into_iter()
            .map(|r| {
                json!({
                    "time": crate::api::timestamp(r.created_at),
                    "reference": r.detail["reference"],
                    "reason": r.detail["reason"],
                })
            })
            .collect::<Vec<_>>(),
        Err(e) => {
            tracing::error!(error = %e, "console: reading sign-in failures");
            vec![]
        }
    };
    let kind = conn["kind"].as_str().unwrap_or("generic").to_string();
    page(
        c,
        "sso_show.html",
        vec![
            ("conn", Value::from_serialize(&conn)),
            ("tab", Value::from(tab_of(&kind))),
            ("failures", Value::from_serialize(&failures)),
            ("can_read_failures", Value::from(may_read_failures)),
            ("error", Value::from(error)),
            ("notice", render::notice(c, notice)),
            ("can_edit", Value::from(c.holds(SSO_EDIT))),
            ("can_delete", Value::from(c.holds(SSO_DELETE))),
            ("organization_name", Value::from(org.short_name.clone())),
            ("max_certificates", Value::from(5)),
        ],
    )
}

pub async fn show(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    Query(q): Query<ShowQuery>,
) -> Response {
    if let Err(page) = require(&c, SSO_VIEW) {
        return page;
    }
    show_page(&state, &c, &id, None, q.notice.as_deref()).await
}

/// Applies a change to a connection through the API; back to its page with a notice, or with
/// the API's refusal.
async fn change(
    state: &ConsoleState,
    c: &Console,
    id: &str,
    body: serde_json::Value,
    notice: &str,
) -> Response {
    let Some(org) = c.org.as_ref() else {
        return crate::urls::see_other("/admin/orgs");
    };
    match state
        .patch(c, &format!("/orgs/{}/sso-connections/{id}", org.id), body)
        .await
    {
        Ok(_) => back(&format!("/admin/sso/{id}"), notice),
        Err(e) => show_page(state, c, id, Some(e.message), None).await,
    }
}

pub async fn save(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    multipart: Multipart,
) -> Response {
    let (fields, _) = match posted(&c, multipart, SSO_EDIT).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = connection_body(&fields);
    body["enabled"] = json!(fields.checked("enabled"));
    if let Some(logo) = super::logo::from_fields(&fields) {
        body["logo_svg"] = json!(logo);
    } else if fields.checked("remove_logo") {
        body["logo_svg"] = json!(null);
    }
    change(&state, &c, &id, body, "saved").await
}

/// The connection's certificates as stored (base64 DER), read afresh before a change.
async fn current_certificates(
    state: &ConsoleState,
    c: &Console,
    id: &str,
) -> Result<Vec<String>, Response> {
    let org = c.org_id()?;
    let conn = state
        .get(c, &format!("/orgs/{org}/sso-connections/{id}"))
        .await
        .map_err(|e| render::failure(c, e))?;
    Ok(conn["certificates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|cert| cert["certificate"].as_str().map(str::to_string))
        .collect())
}

pub async fn add_certificate(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    multipart: Multipart,
) -> Response {
    let (fields, _) = match posted(&c, multipart, SSO_EDIT).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut list = match current_certificates(&state, &c, &id).await {
        Ok(list) => list,
        Err(page) => return page,
    };
    let added = certificates(&fields, "certificate_file", "certificate");
    if added.is_empty() {
        let message = c.text("sso-certificate-none");
        return show_page(&state, &c, &id, Some(message), None).await;
    }
    list.extend(added);
    change(&state, &c, &id, json!({ "certificates": list }), "added").await
}

pub async fn remove_certificate(
    State(state): State<ConsoleState>,
    c: Console,
    Ids(id, fingerprint): Ids,
    axum::extract::Form(form): axum::extract::Form<Button>,
) -> Response {
    if let Err(page) = check_csrf(&c, &form.csrf) {
        return page;
    }
    if let Err(page) = require(&c, SSO_EDIT) {
        return page;
    }
    let list = match current_certificates(&state, &c, &id).await {
        Ok(list) => list,
        Err(page) => return page,
    };
    let kept: Vec<String> = list
        .into_iter()
        .filter(|pem| {
            lanyard_saml::certs::Certificate::parse(pem.as_bytes()).map_or(true, |cert| {
                cert.fingerprint_sha256.replace(':', "") != fingerprint
            })
        })
        .collect();
    change(&state, &c, &id, json!({ "certificates": kept }), "removed").await
}

pub async fn delete(
    State(state): State<ConsoleState>,
    c: Console,
    Id(id): Id,
    axum::extract::Form(form): axum::extract::Form<Button>,
) -> Response {
    if let Err(page) = check_csrf(&c, &form.csrf) {
        return page;
    }
    if let Err(page) = require(&c, SSO_DELETE) {
        return page;
    }
    let Ok(org) = c.org_id() else {
        return crate::urls::see_other("/admin/orgs");
    };
    match state
        .delete(&c, &format!("/orgs/{org}/sso-connections/{id}"))
        .await
    {
        Ok(_) => back("/admin/sso", "deleted"),
        Err(e) => show_page(&state, &c, &id, Some(e.message), None).await,
    }
}
