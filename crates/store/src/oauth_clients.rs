//! OAuth/OIDC clients: the product's apps that sign users in through Lanyard.

use crate::audit::record_on;
use crate::db::{Bind, Columns, Record};
use crate::{now_ms, AuditEvent, Result, Store, StoreError};

/// An OAuth/OIDC client of an organization (the product's app).
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct OAuthClient {
    pub id: String,
    pub org_id: String,
    pub name: String,
    #[record(json)]
    pub redirect_uris: Vec<String>,
    /// Where a sign-in the IdP started sends the browser to have the app begin its own
    /// (OIDC Core §4, third-party-initiated login).
    pub initiate_login_uri: Option<String>,
    /// Confidential clients authenticate with a secret; public ones must use PKCE.
    pub confidential: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

const CLIENT_COLUMNS: &str = "id, org_id, name, redirect_uris, initiate_login_uri, \
     (secret_hash IS NOT NULL) AS confidential, created_at, revoked_at";

/// A client with its secret's hash.
struct WithSecret(OAuthClient, Option<String>);

impl Record for WithSecret {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok(WithSecret(OAuthClient::read(row)?, row.get("secret_hash")?))
    }
}

impl Store {
    /// Stores a new OAuth client (`secret_hash` is `None` for a public client) and audits it.
    pub async fn create_oauth_client(
        &self,
        client: &OAuthClient,
        secret_hash: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<OAuthClient> {
        let binds: [Bind; 7] = [
            (&client.id).into(),
            (&client.org_id).into(),
            (&client.name).into(),
            serde_json::to_string(&client.redirect_uris)?.into(),
            (&client.initiate_login_uri).into(),
            secret_hash.into(),
            now_ms().into(),
        ];
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO oauth_clients (id, org_id, name, redirect_uris, initiate_login_uri, \
                 secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &binds,
            )
            .await?;
            record_on(tx, audit, &client.id, Some(client.org_id.as_str())).await
        })
        .await?;
        let found = self.oauth_client(&client.id).await?;
        found.map(|(c, _)| c).ok_or(StoreError::NotFound)
    }

    /// A client by its client_id, whatever its organization, with its secret's hash (for the
    /// token endpoint, where the client id is all there is to go on).
    pub async fn oauth_client(&self, id: &str) -> Result<Option<(OAuthClient, Option<String>)>> {
        let sql = format!("SELECT {CLIENT_COLUMNS}, secret_hash FROM oauth_clients WHERE id = $1");
        let found: Option<WithSecret> = self
            .read(async |tx| tx.optional(&sql, &[id.into()]).await)
            .await?;
        Ok(found.map(|WithSecret(client, hash)| (client, hash)))
    }

    /// This organization's OAuth clients, oldest first, revoked ones included.
    pub async fn list_oauth_clients(&self, org_id: &str) -> Result<Vec<OAuthClient>> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 ORDER BY created_at, id"
        );
        self.read(async |tx| tx.all(&sql, &[org_id.into()]).await)
            .await
    }

    /// The app an IdP-started sign-in lands in: the organization's oldest live client with an
    /// `initiate_login_uri`.
    pub async fn default_app_client(&self, org_id: &str) -> Result<Option<OAuthClient>> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 \
             AND revoked_at IS NULL AND initiate_login_uri IS NOT NULL \
             ORDER BY created_at, id LIMIT 1"
        );
        self.read(async |tx| tx.optional(&sql, &[org_id.into()]).await)
            .await
    }

    /// Revokes a client: it can no longer start sign-ins or redeem anything, and the tokens
    /// issued to it end.
    pub async fn revoke_oauth_client(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.write(async |tx| {
            tx.change(
                "UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, $1) \
                 WHERE org_id = $2 AND id = $3",
                &[now_ms().into(), org_id.into(), id.into()],
            )
            .await?;
            for table in ["oauth_codes", "oauth_tokens"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE client_id = $1"),
                    &[id.into()],
                )
                .await?;
            }
            record_on(tx, audit, id, Some(org_id)).await
        })
        .await
    }
}
