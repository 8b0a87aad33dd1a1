//! OAuth/OIDC clients: the product's apps that sign users in through Lanyard, and the
//! integrations (provisioning connectors) that act for a user or for themselves. An access key
//! also acts as a client of its own service account: [`Store::oauth_client`] reads either.

use crate::audit::record_on;
use crate::db::{Bind, Columns, Record, Tx};
use crate::{now_ms, AuditEvent, Result, Store, StoreError};

/// Access key ids start with this; a client id with it names an access key.
pub const ACCESS_KEY_CLIENT_PREFIX: &str = "lak_";

/// An OAuth/OIDC client of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct OAuthClient {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: String,
    /// Technical contacts' e-mail addresses.
    #[record(json)]
    pub contacts: Vec<String>,
    /// `app` (the product signs users in) or `integration` (a provisioning connector, which
    /// asks the user's consent).
    pub kind: String,
    /// `confidential`, `public` (PKCE, no secret) or `backend` (client credentials only).
    pub client_type: String,
    /// `client_secret_basic`, `client_secret_post` or `none`.
    pub token_endpoint_auth_method: String,
    #[record(json)]
    pub scopes: Vec<String>,
    pub fedramp: bool,
    #[record(json)]
    pub redirect_uris: Vec<String>,
    /// Where a sign-in the IdP started sends the browser to have the app begin its own
    /// (OIDC Core §4, third-party-initiated login).
    pub initiate_login_uri: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// For an access key acting as a client: its service account, the only user who may sign
    /// in through it and the user its client-credentials tokens act as.
    #[record(skip)]
    pub service_user_id: Option<String>,
}

impl OAuthClient {
    /// Whether this client is an access key acting as a client.
    pub fn is_access_key(&self) -> bool {
        self.service_user_id.is_some()
    }
}

/// What proves a client: its secret's hash and, for a while after a rotation, the previous
/// one's.
#[derive(Debug, Clone, Default)]
pub struct ClientSecrets {
    pub current: Option<String>,
    pub previous: Option<String>,
    pub previous_expires_at: Option<i64>,
}

impl ClientSecrets {
    /// The hashes a presented secret may match now.
    pub fn valid_hashes(&self, now: i64) -> Vec<&str> {
        let previous = self
            .previous
            .as_deref()
            .filter(|_| self.previous_expires_at.is_some_and(|t| t > now));
        self.current
            .as_deref()
            .into_iter()
            .chain(previous)
            .collect()
    }
}

const CLIENT_COLUMNS: &str = "id, org_id, name, description, contacts, kind, client_type, \
     token_endpoint_auth_method, scopes, fedramp, redirect_uris, initiate_login_uri, \
     created_at, revoked_at";

/// The clients an organization's admins see and change: all but the console's own, which
/// Lanyard makes and keeps.
const LISTED: &str = "AND kind <> 'console'";

/// A client with its secrets.
struct WithSecrets(OAuthClient, ClientSecrets);

impl Record for WithSecrets {
    fn read(row: &impl Columns) -> Result<Self> {
        let secrets = ClientSecrets {
            current: row.get("secret_hash")?,
            previous: row.get("previous_secret_hash")?,
            previous_expires_at: row.get("previous_secret_expires_at")?,
        };
        let mut client = OAuthClient::read(row)?;
        client.service_user_id = row.get("service_user_id")?;
        Ok(WithSecrets(client, secrets))
    }
}

/// An access key read as a client: an integration of its service account that authenticates
/// with the key's secret, by either secret method. A deactivated service account's key reads as
/// revoked: it authenticates nothing.
const ACCESS_KEY_AS_CLIENT: &str = "SELECT k.id, k.org_id, 'Access key ' || k.id AS name, \
     '' AS description, '[]' AS contacts, 'integration' AS kind, 'confidential' AS client_type, \
     'client_secret_basic' AS token_endpoint_auth_method, \
     '[\"openid\",\"profile\",\"email\"]' AS scopes, FALSE AS fedramp, k.redirect_uris, \
     CAST(NULL AS TEXT) AS initiate_login_uri, k.created_at, \
     CASE WHEN u.active THEN k.revoked_at ELSE COALESCE(k.revoked_at, k.created_at) END \
       AS revoked_at, \
     k.secret_hash, CAST(NULL AS TEXT) AS previous_secret_hash, \
     CAST(NULL AS BIGINT) AS previous_secret_expires_at, k.user_id AS service_user_id \
     FROM access_keys k JOIN users u ON u.id = k.user_id AND u.org_id = k.org_id \
     WHERE k.id = $1";

impl Store {
    /// Stores a new OAuth client (`secret_hash` is `None` for a public client) and audits it.
    pub async fn create_oauth_client(
        &self,
        client: &OAuthClient,
        secret_hash: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<OAuthClient> {
        let binds: Vec<Bind> = vec![
            (&client.id).into(),
            (&client.org_id).into(),
            (&client.name).into(),
            serde_json::to_string(&client.redirect_uris)?.into(),
            (&client.initiate_login_uri).into(),
            secret_hash.into(),
            now_ms().into(),
            (&client.description).into(),
            serde_json::to_string(&client.contacts)?.into(),
            (&client.kind).into(),
            (&client.client_type).into(),
            (&client.token_endpoint_auth_method).into(),
            serde_json::to_string(&client.scopes)?.into(),
            client.fedramp.into(),
        ];
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO oauth_clients (id, org_id, name, redirect_uris, initiate_login_uri, \
                 secret_hash, created_at, description, contacts, kind, client_type, \
                 token_endpoint_auth_method, scopes, fedramp) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                &binds,
            )
            .await?;
            record_on(tx, audit, &client.id, Some(client.org_id.as_str())).await
        })
        .await?;
        self.get_oauth_client(&client.org_id, &client.id).await
    }

    /// A client by its client_id, whatever its organization, with its secrets (for the token
    /// endpoint, where the client id is all there is to go on). An access key id reads the key
    /// as its service account's client.
    pub async fn oauth_client(&self, id: &str) -> Result<Option<(OAuthClient, ClientSecrets)>> {
        let sql = if id.starts_with(ACCESS_KEY_CLIENT_PREFIX) {
            ACCESS_KEY_AS_CLIENT.to_string()
        } else {
            format!(
                "SELECT {CLIENT_COLUMNS}, secret_hash, previous_secret_hash, \
                 previous_secret_expires_at, CAST(NULL AS TEXT) AS service_user_id \
                 FROM oauth_clients WHERE id = $1"
            )
        };
        let found: Option<WithSecrets> = self
            .read(async |tx| tx.optional(&sql, &[id.into()]).await)
            .await?;
        Ok(found.map(|WithSecrets(client, secrets)| (client, secrets)))
    }

    /// One registered client of this organization.
    pub async fn get_oauth_client(&self, org_id: &str, id: &str) -> Result<OAuthClient> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 AND id = $2 {LISTED}"
        );
        self.read(async |tx| tx.optional(&sql, &[org_id.into(), id.into()]).await)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// This organization's OAuth clients, oldest first, revoked ones included.
    pub async fn list_oauth_clients(&self, org_id: &str) -> Result<Vec<OAuthClient>> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 {LISTED} \
             ORDER BY created_at, id"
        );
        self.read(async |tx| tx.all(&sql, &[org_id.into()]).await)
            .await
    }

    /// The app an IdP-started sign-in lands in: the organization's oldest live app client
    /// with an `initiate_login_uri`.
    pub async fn default_app_client(&self, org_id: &str) -> Result<Option<OAuthClient>> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 \
             AND revoked_at IS NULL AND initiate_login_uri IS NOT NULL AND kind = 'app' \
             AND client_type <> 'backend' \
             ORDER BY created_at, id LIMIT 1"
        );
        self.read(async |tx| tx.optional(&sql, &[org_id.into()]).await)
            .await
    }

    /// Gives a confidential client a new secret; the one it had stays valid until
    /// `previous_valid_until` (a grace period for the connector's configuration to change).
    pub async fn rotate_oauth_client_secret(
        &self,
        org_id: &str,
        id: &str,
        secret_hash: &str,
        previous_valid_until: i64,
        audit: &AuditEvent,
    ) -> Result<OAuthClient> {
        self.write(async |tx| {
            tx.change(
                "UPDATE oauth_clients SET previous_secret_hash = secret_hash, \
                 previous_secret_expires_at = $1, secret_hash = $2 \
                 WHERE org_id = $3 AND id = $4 AND revoked_at IS NULL AND secret_hash IS NOT NULL \
                 AND kind <> 'console'",
                &[
                    previous_valid_until.into(),
                    secret_hash.into(),
                    org_id.into(),
                    id.into(),
                ],
            )
            .await?;
            record_on(tx, audit, id, Some(org_id)).await
        })
        .await?;
        self.get_oauth_client(org_id, id).await
    }

    /// Revokes a client: it can no longer start sign-ins or redeem anything, and the codes,
    /// tokens and consents issued to it end.
    pub async fn revoke_oauth_client(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.write(async |tx| {
            tx.change(
                "UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, $1) \
                 WHERE org_id = $2 AND id = $3 AND kind <> 'console'",
                &[now_ms().into(), org_id.into(), id.into()],
            )
            .await?;
            end_client_grants(tx, id).await?;
            record_on(tx, audit, id, Some(org_id)).await
        })
        .await
    }
}

/// Deletes every code, token and consent issued to the client `id` (an OAuth client or an
/// access key), after its row was changed in the same transaction.
pub(crate) async fn end_client_grants(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    for table in ["oauth_codes", "oauth_tokens", "oauth_consents"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE client_id = $1"),
            &[id.into()],
        )
        .await?;
    }
    Ok(())
}
