//! What an SSO connection's fields must be before it is stored: the kind, URLs, certificates
//! (1–5, unexpired, each once), the entity ID (its own, another the IdP needs, or the shared
//! ACS URL), clock skew, attribute mapping and logo; and the fields an IdP's metadata gives.

use base64::Engine;
use lanyard_saml::certs::Certificate;
use lanyard_store::{AttributeMapping, SsoConnection};

use super::timestamp;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::validate;

const KINDS: &[&str] = &["okta", "entra", "pureconnect", "generic"];

/// Clock skew allowed by default, and at most (SAML profiles §4.1.4.3 leaves it to the SP).
pub const DEFAULT_SKEW_SECONDS: i64 = 180;
const MAX_SKEW_SECONDS: i64 = 600;

/// A connection's `attribute_mapping` as it will be stored: each name given must be a label.
pub fn mapping(m: AttributeMapping) -> ApiResult<AttributeMapping> {
    for (field, name) in [
        ("email", &m.email),
        ("given_name", &m.given_name),
        ("family_name", &m.family_name),
        ("groups", &m.groups),
    ] {
        if let Some(name) = name {
            validate::label(&format!("attribute_mapping.{field}"), name, 500)?;
        }
    }
    Ok(m)
}

/// On the shared audience, a Response is routed by its organization and Issuer: two
/// connections of one organization sharing it for the same IdP could not be told apart.
pub async fn shared_without_twin(state: &AppState, c: &SsoConnection) -> ApiResult<()> {
    if !c.shared_audience {
        return Ok(());
    }
    let all = state.store.list_sso_connections(&c.org_id).await?;
    if let Some(twin) = all
        .iter()
        .find(|o| o.id != c.id && o.shared_audience && o.idp_entity_id == c.idp_entity_id)
    {
        return Err(ApiError::invalid(format!(
            "sp_entity_id: connection {:?} of this organization already shares the ACS URL with the IdP {:?}; give this one its own entity ID",
            twin.name, c.idp_entity_id
        )));
    }
    Ok(())
}

/// An uploaded logo as it will be stored: sanitized, or refused with why.
pub fn logo(svg: &str) -> ApiResult<String> {
    crate::svg::sanitize(svg).map_err(|e| ApiError::invalid(format!("logo_svg: {e}")))
}

/// The SHA-256 fingerprints of stored certificates, for the audit log.
pub fn fingerprints(certificates: &[String]) -> Vec<String> {
    certificates
        .iter()
        .filter_map(|c| Certificate::parse(c.as_bytes()).ok())
        .map(|c| c.fingerprint_sha256)
        .collect()
}

/// The connection as it will be stored, once every field passes: certificates re-encoded as
/// base64 DER; `sp_entity_id`, when given, replacing the connection's own.
pub fn checked(
    state: &AppState,
    mut c: SsoConnection,
    sp_entity_id: Option<String>,
) -> ApiResult<SsoConnection> {
    validate::label("name", &c.name, 100)?;
    if !KINDS.contains(&c.kind.as_str()) {
        return Err(ApiError::invalid(format!(
            "kind {:?} is not one of {}",
            c.kind,
            KINDS.join(", ")
        )));
    }
    c.idp_entity_id = c.idp_entity_id.trim().to_string();
    validate::label("idp_entity_id", &c.idp_entity_id, 1000)?;
    validate::browser_url("sso_url", &c.sso_url)?;
    if !crate::sp_keys::CONTENT_ENCRYPTION
        .iter()
        .any(|(name, _)| *name == c.content_encryption)
    {
        return Err(ApiError::invalid(format!(
            "content_encryption {:?} is not one of aes256-gcm, aes128-gcm, aes256-cbc, aes128-cbc",
            c.content_encryption
        )));
    }
    if !(0..=MAX_SKEW_SECONDS).contains(&c.clock_skew_seconds) {
        return Err(ApiError::invalid(format!(
            "clock_skew_seconds must be 0 to {MAX_SKEW_SECONDS} (default {DEFAULT_SKEW_SECONDS}); fix the IdP's clock rather than allowing more"
        )));
    }
    if let Some(sp) = sp_entity_id {
        let sp = sp.trim().to_string();
        validate::label("sp_entity_id", &sp, 1000)?;
        // The shared ACS URL, the bare public URL, or the form of every connection's own
        // entity ID, would let one IdP's assertions count for two organizations. This
        // connection's own default may be restored.
        // The ACS URL itself is the shared audience (seed 000): the connection keeps its
        // own entity ID for when that choice is undone.
        let own_default = state.public_url.default_sp_entity_id(&c.id);
        let bare = sp.trim_end_matches('/');
        if bare == state.public_url.acs() {
            c.shared_audience = true;
        } else {
            // Anything under the ACS URL (`/saml/…`, `/saml#…`) is the deployment's own.
            let reserved = bare == state.public_url.as_str()
                || (sp.starts_with(&state.public_url.acs()) && sp != own_default);
            if reserved && sp != c.sp_entity_id {
                return Err(ApiError::invalid(format!(
                    "sp_entity_id {sp:?} is reserved: leave it out to keep this connection's own, give the ACS URL {} to share it, or choose another",
                    state.public_url.acs()
                )));
            }
            c.shared_audience = false;
            c.sp_entity_id = sp;
        }
    }
    if !(1..=5).contains(&c.certificates.len()) {
        return Err(ApiError::invalid(
            "certificates must hold 1 to 5 of the IdP's signing certificates (PEM or base64)",
        ));
    }
    let now = lanyard_store::now_ms();
    let mut certificates = Vec::new();
    for (i, text) in c.certificates.iter().enumerate() {
        let cert = Certificate::parse(text.as_bytes()).map_err(|e| {
            ApiError::invalid(format!(
                "certificates[{i}] is not a usable certificate: {e}"
            ))
        })?;
        if cert.not_after.saturating_mul(1000) <= now {
            return Err(ApiError::invalid(format!(
                "certificates[{i}] ({}) expired on {}; download the IdP's current certificate",
                cert.subject,
                timestamp(cert.not_after.saturating_mul(1000))
            )));
        }
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD.encode(&cert.der);
        if certificates.contains(&der) {
            return Err(ApiError::invalid(format!(
                "certificates[{i}] ({}) is already in the list",
                cert.subject
            )));
        }
        certificates.push(der);
    }
    c.certificates = certificates;
    Ok(c)
}

/// The fields an IdP's SAML metadata gives a connection; each `None` when no metadata was
/// given. The Redirect binding's SSO URL is preferred (with endpoint compression on).
#[derive(Default)]
pub struct Imported {
    pub idp_entity_id: Option<String>,
    pub sso_url: Option<String>,
    pub endpoint_compression: Option<bool>,
    pub certificates: Option<Vec<String>>,
}

/// Reads `idp_metadata` (the IdP's metadata XML), if given.
pub fn imported(idp_metadata: Option<&str>) -> ApiResult<Imported> {
    const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    let Some(xml) = idp_metadata else {
        return Ok(Imported::default());
    };
    let limits = lanyard_saml::xml::Limits::default();
    let meta = lanyard_saml::metadata::read_idp(xml.as_bytes(), limits)
        .map_err(|e| ApiError::invalid(format!("idp_metadata: {e}")))?;
    let redirect = meta.sso_url(REDIRECT);
    let sso_url = redirect.or(meta.sso_url(POST)).ok_or_else(|| {
        ApiError::invalid(
            "idp_metadata has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding",
        )
    })?;
    Ok(Imported {
        idp_entity_id: Some(meta.entity_id.clone()),
        sso_url: Some(sso_url.to_string()),
        endpoint_compression: Some(redirect.is_some()),
        certificates: Some(
            meta.signing_certs
                .iter()
                .map(|c| base64::engine::general_purpose::STANDARD.encode(&c.der))
                .collect(),
        ),
    })
}

/// A field a new connection needs: given, or from the metadata.
pub fn required<T>(field: &str, given: Option<T>, imported: Option<T>) -> ApiResult<T> {
    given.or(imported).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field} is required (or give idp_metadata, the IdP's metadata XML)"
        ))
    })
}
