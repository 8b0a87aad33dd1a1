//! SSO connections: an organization's SAML IdPs, each with its own SP entity ID.

use crate::audit::record_on;
use crate::db::{Bind, Record};
use crate::issuance::{end_connection_stmts, lock_connection};
use crate::{now_ms, AuditEvent, Result, Store, StoreError};

/// An organization's SAML IdP.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct SsoConnection {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// `okta`, `entra`, `pureconnect` or `generic`.
    pub kind: String,
    /// The IdP's entity ID ("Issuer URI").
    pub idp_entity_id: String,
    /// Where AuthnRequests go ("Target URL" / SSO URL).
    pub sso_url: String,
    /// The IdP's signing certificates, base64 DER.
    #[record(json)]
    pub certificates: Vec<String>,
    /// Our entity ID toward this IdP ("Audience URI", "relying party identifier"): one per
    /// connection across the deployment.
    pub sp_entity_id: String,
    /// Send AuthnRequests by HTTP-Redirect (DEFLATE) rather than HTTP-POST.
    pub endpoint_compression: bool,
    /// Accept sign-ins the IdP starts (its app tile). Off by default: such a Response answers
    /// no request, so it cannot be tied to the browser that receives it.
    pub allow_idp_initiated: bool,
    /// A connection turned off starts and completes no sign-in; the organization's users then
    /// sign in with a password (or not at all).
    pub enabled: bool,
    /// The provider's logo, a sanitized SVG document (the server sanitizes before storing).
    pub logo_svg: Option<String>,
    /// The audience is the deployment's ACS URL, shared with other connections (seed 000),
    /// rather than `sp_entity_id`, which is kept for when the choice is undone.
    pub shared_audience: bool,
    /// The attributes a just-in-time provisioned user's details are read from.
    #[record(json)]
    pub attribute_mapping: AttributeMapping,
    /// How far the IdP's clock may be from ours when times in its assertions are checked.
    pub clock_skew_seconds: i64,
    /// Sign AuthnRequests with the connection's signing key.
    pub sign_requests: bool,
    /// Refuse assertions not encrypted to the connection's encryption key.
    pub require_encrypted_assertions: bool,
    /// The one content-encryption algorithm accepted: `aes256-gcm` (default), `aes128-gcm`,
    /// `aes256-cbc` or `aes128-cbc`.
    pub content_encryption: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The SAML attribute names a connection reads a new user's details from; each left out
/// falls back to the names IdPs commonly use.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<String>,
}

const CONNECTION_COLUMNS: &str = "id, org_id, name, kind, idp_entity_id, sso_url, certificates, \
     sp_entity_id, endpoint_compression, allow_idp_initiated, enabled, created_at, updated_at, logo_svg, \
     shared_audience, attribute_mapping, clock_skew_seconds, sign_requests, \
     require_encrypted_assertions, content_encryption";

impl Store {
    /// Stores a new SAML connection of this organization (with the id the caller chose, as
    /// its default entity ID names it) and audits it.
    pub async fn create_sso_connection(
        &self,
        connection: &SsoConnection,
        audit: &AuditEvent,
    ) -> Result<SsoConnection> {
        let c = connection;
        let sql = format!(
            "INSERT INTO sso_connections ({CONNECTION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17, $18, $19)"
        );
        let binds = [
            (&c.id).into(),
            (&c.org_id).into(),
            (&c.name).into(),
            (&c.kind).into(),
            (&c.idp_entity_id).into(),
            (&c.sso_url).into(),
            serde_json::to_string(&c.certificates)?.into(),
            (&c.sp_entity_id).into(),
            c.endpoint_compression.into(),
            c.allow_idp_initiated.into(),
            c.enabled.into(),
            now_ms().into(),
            c.logo_svg.as_deref().into(),
            c.shared_audience.into(),
            serde_json::to_string(&c.attribute_mapping)?.into(),
            c.clock_skew_seconds.into(),
            c.sign_requests.into(),
            c.require_encrypted_assertions.into(),
            (&c.content_encryption).into(),
        ];
        self.write(async |tx| {
            tx.execute(&sql, &binds).await?;
            record_on(tx, audit, &c.id, Some(c.org_id.as_str())).await
        })
        .await?;
        self.get_sso_connection(&c.org_id, &c.id).await
    }

    /// Stores a changed SAML connection (all fields but its id, organization and creation)
    /// and audits it.
    /// With `end_sign_ins`, what the connection let in ends in the same transaction (a
    /// certificate taken off may have been compromised).
    /// `read_at` is the `updated_at` the change was made from: a connection changed since is a
    /// conflict (so a change made from a stale read cannot put back a certificate just taken
    /// off).
    pub async fn update_sso_connection(
        &self,
        connection: &SsoConnection,
        read_at: i64,
        end_sign_ins: bool,
        audit: &AuditEvent,
    ) -> Result<SsoConnection> {
        let c = connection;
        let binds: [Bind; 19] = [
            (&c.name).into(),
            (&c.kind).into(),
            (&c.idp_entity_id).into(),
            (&c.sso_url).into(),
            serde_json::to_string(&c.certificates)?.into(),
            (&c.sp_entity_id).into(),
            c.endpoint_compression.into(),
            c.updated_at.into(),
            c.allow_idp_initiated.into(),
            (&c.org_id).into(),
            (&c.id).into(),
            c.enabled.into(),
            c.logo_svg.as_deref().into(),
            c.shared_audience.into(),
            serde_json::to_string(&c.attribute_mapping)?.into(),
            c.clock_skew_seconds.into(),
            c.sign_requests.into(),
            c.require_encrypted_assertions.into(),
            (&c.content_encryption).into(),
        ];
        self.write(async |tx| {
            if !lock_connection(tx, &c.org_id, &c.id).await? {
                return Err(StoreError::NotFound);
            }
            let (stored,): (i64,) = tx
                .one(
                    "SELECT updated_at FROM sso_connections WHERE id = $1",
                    &[(&c.id).into()],
                )
                .await?;
            if stored != read_at {
                return Err(StoreError::Conflict(
                    "the connection was changed meanwhile; read it again and repeat the change"
                        .into(),
                ));
            }
            if end_sign_ins {
                tx.run(end_connection_stmts(&c.id)).await?;
            }
            tx.change(
                "UPDATE sso_connections SET name = $1, kind = $2, idp_entity_id = $3, \
                 sso_url = $4, certificates = $5, sp_entity_id = $6, endpoint_compression = $7, \
                 updated_at = $8, allow_idp_initiated = $9, enabled = $12, logo_svg = $13, \
                 shared_audience = $14, attribute_mapping = $15, clock_skew_seconds = $16, \
                 sign_requests = $17, require_encrypted_assertions = $18, \
                 content_encryption = $19 \
                 WHERE org_id = $10 AND id = $11",
                &binds,
            )
            .await?;
            record_on(tx, audit, &c.id, Some(c.org_id.as_str())).await
        })
        .await?;
        self.get_sso_connection(&c.org_id, &c.id).await
    }

    /// One SAML connection of this organization.
    pub async fn get_sso_connection(&self, org_id: &str, id: &str) -> Result<SsoConnection> {
        self.connection_where("org_id = $1 AND id = $2", &[org_id.into(), id.into()])
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// A SAML connection by id alone: for its public SP metadata, which names no organization.
    pub async fn sso_connection_by_id(&self, id: &str) -> Result<Option<SsoConnection>> {
        self.connection_where("id = $1", &[id.into()]).await
    }

    /// The connection whose entity ID is `sp_entity_id` (unique across the deployment): for a
    /// Response no request asked for, whose unverified Audience is all there is to choose
    /// certificates by.
    pub async fn sso_connection_by_sp_entity_id(
        &self,
        sp_entity_id: &str,
    ) -> Result<Option<SsoConnection>> {
        self.connection_where("sp_entity_id = $1", &[sp_entity_id.into()])
            .await
    }

    async fn connection_where(
        &self,
        condition: &str,
        binds: &[Bind],
    ) -> Result<Option<SsoConnection>> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE {condition}");
        self.read(async |tx| tx.optional(&sql, binds).await).await
    }

    /// Every organization's SAML connections (for certificate-expiry metrics), oldest first.
    pub async fn all_sso_connections(&self) -> Result<Vec<SsoConnection>> {
        let sql =
            format!("SELECT {CONNECTION_COLUMNS} FROM sso_connections ORDER BY created_at, id");
        self.read(async |tx| tx.all(&sql, &[]).await).await
    }

    /// This organization's SAML connections, oldest first.
    pub async fn list_sso_connections(&self, org_id: &str) -> Result<Vec<SsoConnection>> {
        let sql = format!(
            "SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE org_id = $1 \
             ORDER BY created_at, id"
        );
        self.read(async |tx| tx.all(&sql, &[org_id.into()]).await)
            .await
    }

    /// Deletes a SAML connection and audits it. Everything it let in goes with it: its
    /// sessions, and the codes and tokens issued from them (its certificates may be why it
    /// goes).
    pub async fn delete_sso_connection(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.write(async |tx| {
            if !lock_connection(tx, org_id, id).await? {
                return Err(StoreError::NotFound);
            }
            tx.run(end_connection_stmts(id)).await?;
            tx.execute(
                "DELETE FROM sso_connections WHERE org_id = $1 AND id = $2",
                &[org_id.into(), id.into()],
            )
            .await?;
            record_on(tx, audit, id, Some(org_id)).await
        })
        .await
    }
}
