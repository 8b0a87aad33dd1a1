//! SSO connections (the "SSO providers" of the admin guides): an organization's SAML IdPs,
//! with the values to paste into the IdP (ACS URL, entity ID) in every answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use lanyard_saml::certs::Certificate;
use lanyard_store::{AttributeMapping, SsoConnection};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::sso_fields::{
    checked, fingerprints, imported, logo, mapping, required, shared_without_twin,
    DEFAULT_SKEW_SECONDS,
};
use super::timestamp;
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Body;
use crate::permissions::{SSO_ADD, SSO_DELETE, SSO_EDIT, SSO_VIEW};
use crate::state::AppState;

/// A signing certificate of the IdP.
#[derive(Serialize, ToSchema)]
pub struct CertificateView {
    /// The certificate itself, base64 DER (as `certificates` takes it back).
    pub certificate: String,
    pub subject: String,
    /// SHA-256 of the DER, hex with colons.
    pub fingerprint_sha256: String,
    pub not_after: String,
}

/// An SSO connection.
#[derive(Serialize, ToSchema)]
pub struct SsoConnectionView {
    pub id: String,
    pub name: String,
    /// okta, entra, pureconnect or generic.
    pub kind: String,
    /// The IdP's Issuer URI (entity ID).
    pub idp_entity_id: String,
    /// The IdP's SSO URL ("Target URL").
    pub sso_url: String,
    pub certificates: Vec<CertificateView>,
    /// Paste into the IdP: where it posts Responses ("Single sign-on URL", "Reply URL").
    pub acs_url: String,
    /// Paste into the IdP: the audience ("Audience URI", "Identifier (Entity ID)"). Each
    /// connection has its own, so an IdP's assertions for one organization are good for no
    /// other; or, when set to `acs_url` (seed 000), the ACS URL shared with other connections,
    /// the organization then told by the signed `OrganizationName` attribute.
    pub sp_entity_id: String,
    /// Whether `sp_entity_id` is the shared ACS URL.
    pub shared_audience: bool,
    /// Our SP metadata for this connection, for IdPs that import it.
    pub sp_metadata_url: String,
    pub endpoint_compression: bool,
    /// Whether sign-ins started at the IdP (its app tile) are accepted.
    pub allow_idp_initiated: bool,
    /// A connection turned off starts and completes no sign-in (users may still use a
    /// password); turning it off ends what it let in.
    pub enabled: bool,
    /// The provider's logo, an SVG document as sanitized when stored.
    pub logo_svg: Option<String>,
    /// The SAML attributes a just-in-time provisioned user's details are read from (the
    /// organization's `jit_provisioning` setting): `email`, `given_name`, `family_name`,
    /// `groups`, each an attribute name. `email` mapped is what finds and makes the user;
    /// left out, the NameID or `email`/`mail`/Entra's e-mail claim. Names fall back to
    /// `firstName`/`givenName` and `lastName`/`surname`. Groups are joined only when `groups`
    /// is mapped: the organization's groups of those display names; others are passed over.
    #[schema(value_type = Object)]
    pub attribute_mapping: AttributeMapping,
    /// How far the IdP's clock may be from ours, in seconds (0–600).
    pub clock_skew_seconds: i64,
    /// AuthnRequests are signed with the connection's SP signing key (its certificate is in the
    /// SP metadata).
    pub sign_requests: bool,
    /// Plaintext assertions are refused: the IdP must encrypt to the SP encryption certificate.
    pub require_encrypted_assertions: bool,
    /// The one content-encryption algorithm encrypted assertions may use: `aes256-gcm`,
    /// `aes128-gcm`, `aes256-cbc` or `aes128-cbc`.
    pub content_encryption: String,
    pub created_at: String,
}

/// Adds an SSO connection.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSsoConnection {
    pub name: String,
    /// okta, entra, pureconnect or generic (default).
    pub kind: Option<String>,
    /// Required unless `idp_metadata` gives it.
    pub idp_entity_id: Option<String>,
    /// Required unless `idp_metadata` gives it.
    pub sso_url: Option<String>,
    /// 1–5 signing certificates, PEM or base64 DER; required unless `idp_metadata` gives them.
    pub certificates: Option<Vec<String>>,
    /// The IdP's SAML metadata XML: gives `idp_entity_id`, `sso_url` (HTTP-Redirect preferred,
    /// with `endpoint_compression`) and `certificates`, each unless given too.
    pub idp_metadata: Option<String>,
    /// Our entity ID toward this IdP, when the IdP needs a particular one ("relying party
    /// identifier"); unique across the deployment. Default: `{public_url}/saml/{connection id}`.
    /// The ACS URL `{public_url}/saml` makes it the audience shared with other connections
    /// (seed 000): the IdP must then send the `OrganizationName` attribute.
    pub sp_entity_id: Option<String>,
    /// Send AuthnRequests by HTTP-Redirect with DEFLATE; HTTP-POST otherwise (default false).
    pub endpoint_compression: Option<bool>,
    /// Accept sign-ins started at the IdP (default false). Such a Response answers no request,
    /// so it cannot be tied to the browser it arrives in: turn on only when users need the
    /// IdP's app tile.
    pub allow_idp_initiated: Option<bool>,
    /// Whether sign-in goes through this connection (default true).
    pub enabled: Option<bool>,
    /// The provider's logo: an SVG document of at most 25 KB. Scripts, event handlers and
    /// references outside the document are taken out before it is stored.
    pub logo_svg: Option<String>,
    /// Where just-in-time provisioning reads a new user's details (default: common names).
    #[schema(value_type = Option<Object>)]
    pub attribute_mapping: Option<AttributeMapping>,
    /// How far the IdP's clock may be from ours, in seconds: 0 to 600 (default 180).
    pub clock_skew_seconds: Option<i64>,
    /// Sign AuthnRequests (default false), for an IdP that requires signed requests.
    pub sign_requests: Option<bool>,
    /// Refuse plaintext assertions (default false).
    pub require_encrypted_assertions: Option<bool>,
    /// `aes256-gcm` (default), `aes128-gcm`, `aes256-cbc` or `aes128-cbc`: CBC only for an
    /// IdP that cannot do GCM (CBC ciphertexts can be tampered with unnoticed).
    pub content_encryption: Option<String>,
}

fn view(state: &AppState, c: SsoConnection) -> SsoConnectionView {
    let acs_url = state.public_url.acs();
    let certificates = c
        .certificates
        .iter()
        .filter_map(|pem| Certificate::parse(pem.as_bytes()).ok())
        .map(|cert| CertificateView {
            certificate: base64::engine::general_purpose::STANDARD.encode(&cert.der),
            subject: cert.subject,
            fingerprint_sha256: cert.fingerprint_sha256,
            not_after: timestamp(cert.not_after.saturating_mul(1000)),
        })
        .collect();
    SsoConnectionView {
        sp_entity_id: state.public_url.audience_of(&c),
        shared_audience: c.shared_audience,
        sp_metadata_url: state.public_url.sp_metadata(&c.id),
        acs_url,
        id: c.id,
        name: c.name,
        kind: c.kind,
        idp_entity_id: c.idp_entity_id,
        sso_url: c.sso_url,
        certificates,
        endpoint_compression: c.endpoint_compression,
        allow_idp_initiated: c.allow_idp_initiated,
        enabled: c.enabled,
        logo_svg: c.logo_svg,
        attribute_mapping: c.attribute_mapping,
        clock_skew_seconds: c.clock_skew_seconds,
        sign_requests: c.sign_requests,
        require_encrypted_assertions: c.require_encrypted_assertions,
        content_encryption: c.content_encryption,
        created_at: timestamp(c.created_at),
    }
}

/// List the organization's SSO connections (sso.provider.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/sso-connections", tag = "sso connections",
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 200, body = super::Page<SsoConnectionView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<super::Page<SsoConnectionView>>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "sso_connection.list", SSO_VIEW)
        .await?;
    let list = state.store.list_sso_connections(&org.id).await?;
    Ok(Json(super::Page::whole(
        list.into_iter().map(|c| view(&state, c)).collect(),
    )))
}

/// One SSO connection (sso.provider.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/sso-connections/{id}", tag = "sso connections",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = SsoConnectionView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<SsoConnectionView>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "sso_connection.get", SSO_VIEW)
        .await?;
    let connection = state.store.get_sso_connection(&org.id, &id).await?;
    Ok(Json(view(&state, connection)))
}

/// Add an SSO connection (sso.provider.add).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/sso-connections", tag = "sso connections", request_body = CreateSsoConnection,
    params(("org" = String, Path, description = "Organization id or short name")),
    responses((status = 201, body = SsoConnectionView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Body(input): Body<CreateSsoConnection>,
) -> ApiResult<Response> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "sso_connection.create", SSO_ADD)
        .await?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = lanyard_store::now_ms();
    let from = imported(input.idp_metadata.as_deref())?;
    let draft = checked(
        &state,
        SsoConnection {
            sp_entity_id: state.public_url.default_sp_entity_id(&id),
            id,
            org_id: org.id.clone(),
            name: input.name,
            kind: input.kind.unwrap_or_else(|| "generic".into()),
            idp_entity_id: required("idp_entity_id", input.idp_entity_id, from.idp_entity_id)?,
            sso_url: required("sso_url", input.sso_url, from.sso_url)?,
            certificates: required("certificates", input.certificates, from.certificates)?,
            endpoint_compression: input
                .endpoint_compression
                .or(from.endpoint_compression)
                .unwrap_or(false),
            allow_idp_initiated: input.allow_idp_initiated.unwrap_or(false),
            enabled: input.enabled.unwrap_or(true),
            logo_svg: input.logo_svg.as_deref().map(logo).transpose()?,
            shared_audience: false,
            attribute_mapping: mapping(input.attribute_mapping.unwrap_or_default())?,
            clock_skew_seconds: input.clock_skew_seconds.unwrap_or(DEFAULT_SKEW_SECONDS),
            sign_requests: input.sign_requests.unwrap_or(false),
            require_encrypted_assertions: input.require_encrypted_assertions.unwrap_or(false),
            content_encryption: input
                .content_encryption
                .unwrap_or_else(|| "aes256-gcm".into()),
            created_at: now,
            updated_at: now,
        },
        input.sp_entity_id,
    )?;
    shared_without_twin(&state, &draft).await?;
    let mut audit = who.audit("sso_connection.create");
    audit.detail = serde_json::json!({
        "name": draft.name,
        "idp_entity_id": draft.idp_entity_id,
        "sp_entity_id": state.public_url.audience_of(&draft),
        "certificates": fingerprints(&draft.certificates),
        "shared_audience": draft.shared_audience,
        "attribute_mapping": draft.attribute_mapping,
        "clock_skew_seconds": draft.clock_skew_seconds,
        "sign_requests": draft.sign_requests,
        "require_encrypted_assertions": draft.require_encrypted_assertions,
        "content_encryption": draft.content_encryption,
    });
    let created = state.store.create_sso_connection(&draft, &audit).await?;
    let location = format!("/api/v1/orgs/{}/sso-connections/{}", org.id, created.id);
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        Json(view(&state, created)),
    )
        .into_response())
}

/// Changes an SSO connection; fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSsoConnection {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub idp_entity_id: Option<String>,
    pub sso_url: Option<String>,
    /// The whole new list (1–5): add the IdP's next certificate before it starts signing with
    /// it, remove the old one after.
    pub certificates: Option<Vec<String>>,
    pub sp_entity_id: Option<String>,
    pub endpoint_compression: Option<bool>,
    pub allow_idp_initiated: Option<bool>,
    /// Turn sign-in through this connection off (ending what it let in) or on.
    pub enabled: Option<bool>,
    /// A new logo (SVG, at most 25 KB, sanitized), or `null` to remove it.
    #[serde(default, deserialize_with = "crate::validate::present")]
    #[schema(value_type = Option<String>)]
    pub logo_svg: Option<Option<String>>,
    /// The whole new mapping (`{}` for the common names).
    #[schema(value_type = Option<Object>)]
    pub attribute_mapping: Option<AttributeMapping>,
    pub clock_skew_seconds: Option<i64>,
    pub sign_requests: Option<bool>,
    pub require_encrypted_assertions: Option<bool>,
    pub content_encryption: Option<String>,
    /// The IdP's current metadata XML: replaces `idp_entity_id`, `sso_url`,
    /// `endpoint_compression` and `certificates`, each unless given too.
    pub idp_metadata: Option<String>,
}

/// Change an SSO connection, such as rolling its certificates over (sso.provider.edit).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/sso-connections/{id}", tag = "sso connections", request_body = UpdateSsoConnection,
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = SsoConnectionView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
    Body(input): Body<UpdateSsoConnection>,
) -> ApiResult<Json<SsoConnectionView>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "sso_connection.update", SSO_EDIT)
        .await?;
    let current = state.store.get_sso_connection(&org.id, &id).await?;
    let from = imported(input.idp_metadata.as_deref())?;
    let changed = checked(
        &state,
        SsoConnection {
            name: input.name.unwrap_or(current.name.clone()),
            kind: input.kind.unwrap_or(current.kind.clone()),
            idp_entity_id: (input.idp_entity_id.or(from.idp_entity_id))
                .unwrap_or(current.idp_entity_id.clone()),
            sso_url: (input.sso_url.or(from.sso_url)).unwrap_or(current.sso_url.clone()),
            certificates: (input.certificates.or(from.certificates))
                .unwrap_or(current.certificates.clone()),
            endpoint_compression: (input.endpoint_compression.or(from.endpoint_compression))
                .unwrap_or(current.endpoint_compression),
            allow_idp_initiated: input
                .allow_idp_initiated
                .unwrap_or(current.allow_idp_initiated),
            enabled: input.enabled.unwrap_or(current.enabled),
            logo_svg: match input.logo_svg {
                Some(new) => new.as_deref().map(logo).transpose()?,
                None => current.logo_svg.clone(),
            },
            attribute_mapping: match input.attribute_mapping {
                Some(new) => mapping(new)?,
                None => current.attribute_mapping.clone(),
            },
            clock_skew_seconds: input
                .clock_skew_seconds
                .unwrap_or(current.clock_skew_seconds),
            sign_requests: input.sign_requests.unwrap_or(current.sign_requests),
            require_encrypted_assertions: input
                .require_encrypted_assertions
                .unwrap_or(current.require_encrypted_assertions),
            content_encryption: input
                .content_encryption
                .unwrap_or(current.content_encryption.clone()),
            // Later than the stored one even within the same millisecond.
            updated_at: lanyard_store::now_ms().max(current.updated_at + 1),
            ..current.clone()
        },
        input.sp_entity_id,
    )?;
    shared_without_twin(&state, &changed).await?;
    // A certificate taken off, or another IdP, ends what the connection let in: the reason
    // may be a compromised key. Adding the IdP's next certificate ends nothing.
    // Turning the connection off ends them too.
    let end_sign_ins = changed.idp_entity_id != current.idp_entity_id
        || (current.enabled && !changed.enabled)
        || current
            .certificates
            .iter()
            .any(|old| !changed.certificates.contains(old));
    let mut audit = who.audit("sso_connection.update");
    audit.detail = serde_json::json!({
        "name": changed.name,
        "idp_entity_id": changed.idp_entity_id,
        "sso_url": changed.sso_url,
        "sp_entity_id": state.public_url.audience_of(&changed),
        "allow_idp_initiated": changed.allow_idp_initiated,
        "enabled": changed.enabled,
        "certificates": fingerprints(&changed.certificates),
        "shared_audience": changed.shared_audience,
        "attribute_mapping": changed.attribute_mapping,
        "clock_skew_seconds": changed.clock_skew_seconds,
        "sign_requests": changed.sign_requests,
        "require_encrypted_assertions": changed.require_encrypted_assertions,
        "content_encryption": changed.content_encryption,
        "ended_sign_ins": end_sign_ins,
    });
    let updated = state
        .store
        .update_sso_connection(&changed, current.updated_at, end_sign_ins, &audit)
        .await?;
    Ok(Json(view(&state, updated)))
}

/// Delete an SSO connection; sign-ins waiting on it end (sso.provider.delete).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/sso-connections/{id}", tag = "sso connections",
    params(("org" = String, Path, description = "Organization id or short name"), ("id" = String, Path, description = "Connection id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "sso_connection.delete", SSO_DELETE)
        .await?;
    let audit = who.audit("sso_connection.delete");
    state
        .store
        .delete_sso_connection(&org.id, &id, &audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
