//! Sign-in: SAML connections, OAuth clients, ID-token signing keys, pending sign-ins, the
//! assertion replay cache, sessions, authorization codes and tokens.
//!
//! Whatever lets a user in — a session, a code, a token — is issued only inside a transaction
//! that first reads the user's row with a shared lock and finds them active. Deactivation
//! takes that row with an exclusive lock and deletes everything issued to them in the same
//! transaction (see [`end_sign_in_stmts`]), so one always follows the other: nothing issued can
//! outlive a deactivation that commits around it.

use crate::audit::insert_audit;
use crate::pool::{read, write};
use crate::scim::{run_stmts, Stmt};
use crate::scim_sql::Bind;
use crate::{now_ms, AuditEvent, Backend, Result, Store, StoreError};

/// An organization's SAML IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub certificates: Vec<String>,
    /// Our entity ID toward this IdP ("Audience URI", "relying party identifier"): one per
    /// connection across the deployment.
    pub sp_entity_id: String,
    /// Send AuthnRequests by HTTP-Redirect (DEFLATE) rather than HTTP-POST.
    pub endpoint_compression: bool,
    /// Accept sign-ins the IdP starts (its app tile). Off by default: such a Response answers
    /// no request, so it cannot be tied to the browser that receives it.
    pub allow_idp_initiated: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An OAuth/OIDC client of an organization (the product's app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Where a sign-in the IdP started sends the browser to have the app begin its own
    /// (OIDC Core §4, third-party-initiated login).
    pub initiate_login_uri: Option<String>,
    /// Confidential clients authenticate with a secret; public ones must use PKCE.
    pub confidential: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An ID-token signing key; `private_key` is sealed by the caller.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKey {
    pub id: String,
    pub algorithm: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
}

/// A sign-in waiting for the IdP's Response. Kept by the browser that started it, sealed
/// under the master key in a cookie, not in the database: starting a sign-in writes nothing, so
/// nobody can fill the database (or hold its write lock) by starting sign-ins. Its ID is
/// recorded as spent when a Response answers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoginRequest {
    /// The AuthnRequest's ID, which the Response's InResponseTo must repeat.
    pub id: String,
    pub org_id: String,
    pub connection_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The client asked for a fresh authentication (`prompt=login`, `max_age`): the Response's
    /// AuthnInstant must not be earlier than this (unix ms).
    pub auth_not_before: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A browser session after a verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub connection_id: Option<String>,
    /// When the user authenticated at the IdP (unix ms).
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthCode {
    pub org_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub expires_at: i64,
    /// Every token issued from this code shares it, so a replayed code can end them all.
    pub grant_id: String,
    /// The SSO connection the user signed in through: deleting it, or taking a certificate
    /// off it, ends what it let in.
    pub connection_id: Option<String>,
}

/// An access or refresh token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OAuthToken {
    pub id: String,
    /// `access` or `refresh`.
    pub kind: String,
    pub org_id: String,
    pub client_id: String,
    pub user_id: String,
    pub grant_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A token to store: its keyed hash and lifetime.
#[derive(Debug, Clone)]
pub struct TokenDraft {
    pub token_hash: String,
    pub expires_at: i64,
}

/// A verified SAML sign-in to record: the assertion consumed, the session it opens, and the
/// authorization code handed to the client.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    /// The pending sign-in answered, and the code issued to its client.
    pub request: &'a LoginRequest,
    pub code_hash: &'a str,
    pub code_expires_at: i64,
    /// The connection the Response was verified with, as it was read: its IdP and the
    /// certificates tried. A change that takes any of them away since refuses the sign-in.
    pub connection_id: &'a str,
    pub idp_entity_id: &'a str,
    pub certificates: &'a [String],
    /// The audience (our entity ID) the assertion named, and its ID: an assertion is spent
    /// once per audience, whatever happens to the connection.
    pub audience: &'a str,
    pub assertion_id: &'a str,
    /// Until when the assertion ID must be remembered.
    pub assertion_expires_at: i64,
    pub session_hash: &'a str,
    pub session_expires_at: i64,
}

/// Why a grant was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefusal {
    /// Unknown, expired, already used or revoked, or issued to another client.
    Invalid,
    /// The user may no longer sign in (deactivated or deleted).
    UserInactive,
}

/// Tokens issued by a grant.
#[derive(Debug, Clone)]
pub struct Issued {
    pub connection_id: Option<String>,
    pub user_id: String,
    pub org_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub nonce: Option<String>,
    pub grant_id: String,
}

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    id: String,
    org_id: String,
    name: String,
    kind: String,
    idp_entity_id: String,
    sso_url: String,
    certificates: String,
    sp_entity_id: String,
    endpoint_compression: bool,
    allow_idp_initiated: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ConnectionRow> for SsoConnection {
    type Error = StoreError;
    fn try_from(r: ConnectionRow) -> Result<SsoConnection> {
        Ok(SsoConnection {
            certificates: serde_json::from_str(&r.certificates)
                .map_err(|e| StoreError::Corrupt(format!("connection certificates: {e}")))?,
            id: r.id,
            org_id: r.org_id,
            name: r.name,
            kind: r.kind,
            idp_entity_id: r.idp_entity_id,
            sso_url: r.sso_url,
            sp_entity_id: r.sp_entity_id,
            endpoint_compression: r.endpoint_compression,
            allow_idp_initiated: r.allow_idp_initiated,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const CONNECTION_COLUMNS: &str = "id, org_id, name, kind, idp_entity_id, sso_url, certificates, \
     sp_entity_id, endpoint_compression, allow_idp_initiated, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    org_id: String,
    name: String,
    redirect_uris: String,
    initiate_login_uri: Option<String>,
    confidential: bool,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<ClientRow> for OAuthClient {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<OAuthClient> {
        Ok(OAuthClient {
            redirect_uris: serde_json::from_str(&r.redirect_uris)
                .map_err(|e| StoreError::Corrupt(format!("client redirect URIs: {e}")))?,
            id: r.id,
            org_id: r.org_id,
            name: r.name,
            initiate_login_uri: r.initiate_login_uri,
            confidential: r.confidential,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

const CLIENT_COLUMNS: &str = "id, org_id, name, redirect_uris, initiate_login_uri, \
     (secret_hash IS NOT NULL) AS confidential, created_at, revoked_at";

const TOKEN_COLUMNS: &str = "id, kind, org_id, client_id, user_id, grant_id, scope, auth_time, \
     created_at, expires_at, revoked_at";

/// The statements that end everything a user was issued: sessions, codes and tokens. Run in
/// the transaction that deactivates them, after their row is locked.
pub(crate) fn end_sign_in_stmts(user_id: &str) -> Vec<Stmt> {
    ending_stmts("user_id", user_id)
}

/// The statements that end what a connection let in: its sessions, and the codes and tokens
/// issued through it. Run after the connection's row is locked.
fn end_connection_stmts(connection_id: &str) -> Vec<Stmt> {
    ending_stmts("connection_id", connection_id)
}

fn ending_stmts(column: &str, value: &str) -> Vec<Stmt> {
    ["sessions", "oauth_codes", "oauth_tokens"]
        .into_iter()
        .map(|table| Stmt {
            sql: format!("DELETE FROM {table} WHERE {column} = $1").into(),
            binds: vec![Bind::Text(value.to_string())],
        })
        .collect()
}

/// Takes a connection's row for change (PostgreSQL), before what hangs off it: sign-ins
/// completing through it take it shared first, so the two never cross. False when it is not
/// there.
macro_rules! lock_connection {
    ($tx:expr, $backend:expr, $org_id:expr, $id:expr) => {{
        let lock = match $backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let found: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT CAST(1 AS BIGINT) FROM sso_connections WHERE org_id = $1 AND id = $2{lock}"
        ))
        .bind($org_id)
        .bind($id)
        .fetch_optional(&mut *$tx)
        .await?;
        found.is_some()
    }};
}

/// Whether the connection an issuance came through (if any) is still there, read under a
/// shared lock: a deletion or a certificate taken off, in flight, is waited for, and what it
/// ends is then seen gone. Taken after the organization and before the user.
macro_rules! connection_is_there {
    ($tx:expr, $backend:expr, $connection_id:expr) => {{
        match $connection_id {
            None => true,
            Some(id) => {
                let lock = match $backend {
                    Backend::Postgres => " FOR SHARE",
                    Backend::Sqlite => "",
                };
                let found: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT CAST(1 AS BIGINT) FROM sso_connections WHERE id = $1{lock}"
                ))
                .bind(id)
                .fetch_optional(&mut *$tx)
                .await?;
                found.is_some()
            }
        }
    }};
}

/// Reads the user's `active` flag under a shared row lock (PostgreSQL; SQLite's single writer
/// serializes already): a deactivation in flight is waited for and then seen.
fn active_user_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "SELECT active FROM users WHERE org_id = $1 AND id = $2 AND kind = 'human' FOR SHARE"
        }
        Backend::Sqlite => {
            "SELECT active FROM users WHERE org_id = $1 AND id = $2 AND kind = 'human'"
        }
    }
}

fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// Inserts an access token and a refresh token of one grant.
macro_rules! insert_tokens {
    ($tx:expr, $issued:expr, $client_id:expr, $access:expr, $refresh:expr) => {{
        let issued: &Issued = $issued;
        let now = now_ms();
        for (kind, draft) in [("access", $access), ("refresh", $refresh)] {
            let draft: &TokenDraft = draft;
            sqlx::query(
                "INSERT INTO oauth_tokens (id, token_hash, kind, org_id, client_id, user_id, \
                 grant_id, scope, auth_time, created_at, expires_at, connection_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(crate::new_id())
            .bind(&draft.token_hash)
            .bind(kind)
            .bind(&issued.org_id)
            .bind($client_id)
            .bind(&issued.user_id)
            .bind(&issued.grant_id)
            .bind(&issued.scope)
            .bind(issued.auth_time)
            .bind(now)
            .bind(draft.expires_at)
            .bind(&issued.connection_id)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Inserts an authorization code.
macro_rules! insert_code {
    ($tx:expr, $code_hash:expr, $code:expr, $now:expr) => {{
        let code: &AuthCode = $code;
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, org_id, client_id, user_id, session_id, \
             redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, grant_id, \
             connection_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind($code_hash)
        .bind(&code.org_id)
        .bind(&code.client_id)
        .bind(&code.user_id)
        .bind(&code.session_id)
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(code.auth_time)
        .bind($now)
        .bind(code.expires_at)
        .bind(&code.grant_id)
        .bind(&code.connection_id)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Serializes everything that changes one grant's tokens (refresh, reuse detection,
/// revocation) on PostgreSQL: without it, a revocation's snapshot misses the pair a concurrent
/// refresh is inserting. SQLite's single writer serializes already.
macro_rules! lock_grant {
    ($tx:expr, $backend:expr, $grant_id:expr) => {{
        if $backend == Backend::Postgres {
            // The two-key form: its key space is apart from the one-key locks used elsewhere.
            sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
                .bind($grant_id)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

/// Holds the organization row against deletion for the transaction (PostgreSQL): everything
/// issued references it, and taking it first keeps the lock order of an organization's deletion
/// (organization, then its users) and avoids a cycle with it. False when it is gone.
macro_rules! org_exists {
    ($tx:expr, $backend:expr, $org_id:expr) => {{
        let lock = match $backend {
            Backend::Postgres => " FOR KEY SHARE",
            Backend::Sqlite => "",
        };
        let found: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT CAST(1 AS BIGINT) FROM organizations WHERE id = $1{lock}"
        ))
        .bind($org_id)
        .fetch_optional(&mut *$tx)
        .await?;
        found.is_some()
    }};
}

/// Whether the client is still registered and not revoked, read under a shared lock so a
/// revocation in flight is waited for (it deletes the client's codes and tokens after it).
macro_rules! client_is_live {
    ($tx:expr, $backend:expr, $client_id:expr) => {{
        let lock = match $backend {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        };
        let revoked: Option<Option<i64>> = sqlx::query_scalar(&format!(
            "SELECT revoked_at FROM oauth_clients WHERE id = $1{lock}"
        ))
        .bind($client_id)
        .fetch_optional(&mut *$tx)
        .await?;
        matches!(revoked, Some(None))
    }};
}

/// Whether the user may be issued anything now (read under the shared lock).
macro_rules! user_is_active {
    ($tx:expr, $backend:expr, $org_id:expr, $user_id:expr) => {{
        let active: Option<bool> = sqlx::query_scalar(active_user_sql($backend))
            .bind($org_id)
            .bind($user_id)
            .fetch_optional(&mut *$tx)
            .await?;
        active == Some(true)
    }};
}

impl Store {
    /// Stores a new SAML connection of this organization (with the id the caller chose, as
    /// its default entity ID names it) and audits it.
    pub async fn create_sso_connection(
        &self,
        connection: &SsoConnection,
        audit: &AuditEvent,
    ) -> Result<SsoConnection> {
        let id = connection.id.clone();
        let now = now_ms();
        let certificates = serde_json::to_string(&connection.certificates)?;
        write!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(&format!(
                "INSERT INTO sso_connections ({CONNECTION_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
            ))
            .bind(&id)
            .bind(&connection.org_id)
            .bind(&connection.name)
            .bind(&connection.kind)
            .bind(&connection.idp_entity_id)
            .bind(&connection.sso_url)
            .bind(&certificates)
            .bind(&connection.sp_entity_id)
            .bind(connection.endpoint_compression)
            .bind(connection.allow_idp_initiated)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let mut audit = audit.clone();
            audit.target.get_or_insert_with(|| id.clone());
            insert_audit!(&mut *tx, &audit, Some(connection.org_id.as_str()))?;
            tx.commit().await?;
        });
        self.get_sso_connection(&connection.org_id, &id).await
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
        let certificates = serde_json::to_string(&connection.certificates)?;
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| connection.id.clone());
        let backend = self.backend();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            if !lock_connection!(tx, backend, &connection.org_id, &connection.id) {
                return Err(StoreError::NotFound);
            }
            let stored: i64 =
                sqlx::query_scalar("SELECT updated_at FROM sso_connections WHERE id = $1")
                    .bind(&connection.id)
                    .fetch_one(&mut *tx)
                    .await?;
            if stored != read_at {
                return Err(StoreError::Conflict(
                    "the connection was changed meanwhile; read it again and repeat the change"
                        .into(),
                ));
            }
            if end_sign_ins {
                run_stmts!(tx, end_connection_stmts(&connection.id));
            }
            let updated = sqlx::query(
                "UPDATE sso_connections SET name = $1, kind = $2, idp_entity_id = $3, sso_url = $4, \
                 certificates = $5, sp_entity_id = $6, endpoint_compression = $7, updated_at = $8, \
                 allow_idp_initiated = $9 WHERE org_id = $10 AND id = $11",
            )
            .bind(&connection.name)
            .bind(&connection.kind)
            .bind(&connection.idp_entity_id)
            .bind(&connection.sso_url)
            .bind(&certificates)
            .bind(&connection.sp_entity_id)
            .bind(connection.endpoint_compression)
            .bind(connection.updated_at)
            .bind(connection.allow_idp_initiated)
            .bind(&connection.org_id)
            .bind(&connection.id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(&mut *tx, &audit, Some(connection.org_id.as_str()))?;
            tx.commit().await?;
        });
        self.get_sso_connection(&connection.org_id, &connection.id)
            .await
    }

    /// One SAML connection of this organization.
    pub async fn get_sso_connection(&self, org_id: &str, id: &str) -> Result<SsoConnection> {
        let row: Option<ConnectionRow> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE org_id = $1 AND id = $2"
            ))
            .bind(org_id)
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// A SAML connection by id alone: for its public SP metadata, which names no organization.
    pub async fn sso_connection_by_id(&self, id: &str) -> Result<Option<SsoConnection>> {
        let row: Option<ConnectionRow> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        row.map(SsoConnection::try_from).transpose()
    }

    /// This organization's SAML connections, oldest first.
    pub async fn list_sso_connections(&self, org_id: &str) -> Result<Vec<SsoConnection>> {
        let rows: Vec<ConnectionRow> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE org_id = $1 \
                 ORDER BY created_at, id"
            ))
            .bind(org_id)
            .fetch_all(p)
            .await
        })?;
        rows.into_iter().map(SsoConnection::try_from).collect()
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
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| id.to_string());
        let backend = self.backend();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            if !lock_connection!(tx, backend, org_id, id) {
                return Err(StoreError::NotFound);
            }
            run_stmts!(tx, end_connection_stmts(id));
            sqlx::query("DELETE FROM sso_connections WHERE org_id = $1 AND id = $2")
                .bind(org_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stores a new OAuth client (`secret_hash` is `None` for a public client) and audits it.
    pub async fn create_oauth_client(
        &self,
        client: &OAuthClient,
        secret_hash: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<OAuthClient> {
        let redirect_uris = serde_json::to_string(&client.redirect_uris)?;
        write!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO oauth_clients (id, org_id, name, redirect_uris, initiate_login_uri, \
                 secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&client.id)
            .bind(&client.org_id)
            .bind(&client.name)
            .bind(&redirect_uris)
            .bind(&client.initiate_login_uri)
            .bind(secret_hash)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            let mut audit = audit.clone();
            audit.target.get_or_insert_with(|| client.id.clone());
            insert_audit!(&mut *tx, &audit, Some(client.org_id.as_str()))?;
            tx.commit().await?;
        });
        let found = self.oauth_client(&client.id).await?;
        found.map(|(c, _)| c).ok_or(StoreError::NotFound)
    }

    /// A client by its client_id, whatever its organization, with its secret's hash (for the
    /// token endpoint, where the client id is all there is to go on).
    pub async fn oauth_client(&self, id: &str) -> Result<Option<(OAuthClient, Option<String>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            client: ClientRow,
            secret_hash: Option<String>,
        }
        let row: Option<Row> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {CLIENT_COLUMNS}, secret_hash FROM oauth_clients WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        row.map(|r| Ok((r.client.try_into()?, r.secret_hash)))
            .transpose()
    }

    /// This organization's OAuth clients, oldest first, revoked ones included.
    pub async fn list_oauth_clients(&self, org_id: &str) -> Result<Vec<OAuthClient>> {
        let rows: Vec<ClientRow> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 \
                 ORDER BY created_at, id"
            ))
            .bind(org_id)
            .fetch_all(p)
            .await
        })?;
        rows.into_iter().map(OAuthClient::try_from).collect()
    }

    /// Revokes a client: it can no longer start sign-ins or redeem anything, and the tokens
    /// issued to it end.
    pub async fn revoke_oauth_client(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| id.to_string());
        let now = now_ms();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let revoked = sqlx::query(
                "UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, $1) \
                 WHERE org_id = $2 AND id = $3",
            )
            .bind(now)
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if revoked.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            for table in ["oauth_codes", "oauth_tokens"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The signing keys in use, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT id, algorithm, private_key, public_jwk, created_at FROM signing_keys \
                 WHERE retired_at IS NULL ORDER BY created_at DESC, id DESC",
            )
            .fetch_all(p)
            .await
        })?)
    }

    /// Stores `key` unless a key is already in use (servers starting together make one key
    /// between them); returns the keys in use.
    pub async fn ensure_signing_key(&self, key: &SigningKey) -> Result<Vec<SigningKey>> {
        let backend = self.backend();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            if backend == Backend::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('signing_keys'))")
                    .execute(&mut *tx)
                    .await?;
            }
            let present: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL")
                    .fetch_one(&mut *tx)
                    .await?;
            if present == 0 {
                sqlx::query(
                    "INSERT INTO signing_keys (id, algorithm, private_key, public_jwk, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&key.id)
                .bind(&key.algorithm)
                .bind(&key.private_key)
                .bind(&key.public_jwk)
                .bind(key.created_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        self.signing_keys().await
    }

    /// Records a verified SAML sign-in in one transaction: spends the request it answers
    /// (once), remembers the assertion (a replay is refused), checks the connection still
    /// trusts what verified the Response, the user may sign in and the client is live, opens a
    /// session and stores the authorization code for the client.
    ///
    /// Locks are taken in one order everywhere: organization, connection, user, grant,
    /// client, then the rows themselves.
    pub async fn complete_sign_in(
        &self,
        user_id: &str,
        auth_time: i64,
        sign_in: &SignIn<'_>,
    ) -> Result<std::result::Result<Session, GrantRefusal>> {
        let backend = self.backend();
        let now = now_ms();
        let session_id = crate::new_id();
        let request = sign_in.request;
        let org_id = request.org_id.as_str();
        let share = match backend {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        };
        if request.expires_at <= now {
            return Ok(Err(GrantRefusal::Invalid));
        }
        write!(self, |p| {
            let mut tx = p.begin().await?;
            if !org_exists!(tx, backend, org_id) {
                return Ok(Err(GrantRefusal::Invalid));
            }
            let connection: Option<(String, String)> = sqlx::query_as(&format!(
                "SELECT idp_entity_id, certificates FROM sso_connections \
                 WHERE org_id = $1 AND id = $2{share}"
            ))
            .bind(org_id)
            .bind(sign_in.connection_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((idp_entity_id, certificates)) = connection else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            let current: Vec<String> = serde_json::from_str(&certificates)?;
            if idp_entity_id != sign_in.idp_entity_id
                || sign_in.certificates.iter().any(|c| !current.contains(c))
            {
                return Ok(Err(GrantRefusal::Invalid));
            }
            let active = user_is_active!(tx, backend, org_id, user_id);
            let spent = sqlx::query(
                "INSERT INTO spent_login_requests (id, expires_at) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&request.id)
            .bind(request.expires_at)
            .execute(&mut *tx)
            .await?;
            if spent.rows_affected() == 0 {
                return Ok(Err(GrantRefusal::Invalid));
            }
            let fresh = sqlx::query(
                "INSERT INTO saml_replay (audience, assertion_id, expires_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(sign_in.audience)
            .bind(sign_in.assertion_id)
            .bind(sign_in.assertion_expires_at)
            .execute(&mut *tx)
            .await?;
            if fresh.rows_affected() == 0 {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if !active {
                // The request and the assertion stay spent.
                tx.commit().await?;
                return Ok(Err(GrantRefusal::UserInactive));
            }
            if !client_is_live!(tx, backend, &request.client_id) {
                return Ok(Err(GrantRefusal::Invalid));
            }
            sqlx::query(
                "INSERT INTO sessions (id, secret_hash, org_id, user_id, connection_id, auth_time, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&session_id)
            .bind(sign_in.session_hash)
            .bind(org_id)
            .bind(user_id)
            .bind(sign_in.connection_id)
            .bind(auth_time)
            .bind(now)
            .bind(sign_in.session_expires_at)
            .execute(&mut *tx)
            .await?;
            let code = AuthCode {
                org_id: org_id.to_string(),
                client_id: request.client_id.clone(),
                user_id: user_id.to_string(),
                session_id: Some(session_id.clone()),
                redirect_uri: request.redirect_uri.clone(),
                scope: request.scope.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                auth_time,
                expires_at: sign_in.code_expires_at,
                grant_id: crate::new_id(),
                connection_id: Some(sign_in.connection_id.to_string()),
            };
            insert_code!(tx, sign_in.code_hash, &code, now);
            tx.commit().await?;
        });
        Ok(Ok(Session {
            id: session_id,
            org_id: org_id.to_string(),
            user_id: user_id.to_string(),
            connection_id: Some(sign_in.connection_id.to_string()),
            auth_time,
            created_at: now,
            expires_at: sign_in.session_expires_at,
        }))
    }

    /// The connection whose entity ID is `sp_entity_id` (unique across the deployment): for a
    /// Response no request asked for, whose unverified Audience is all there is to choose
    /// certificates by.
    pub async fn sso_connection_by_sp_entity_id(
        &self,
        sp_entity_id: &str,
    ) -> Result<Option<SsoConnection>> {
        let row: Option<ConnectionRow> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE sp_entity_id = $1"
            ))
            .bind(sp_entity_id)
            .fetch_optional(p)
            .await
        })?;
        row.map(SsoConnection::try_from).transpose()
    }

    /// The app an IdP-started sign-in lands in: the organization's oldest live client with an
    /// `initiate_login_uri`.
    pub async fn default_app_client(&self, org_id: &str) -> Result<Option<OAuthClient>> {
        let row: Option<ClientRow> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 \
                 AND revoked_at IS NULL AND initiate_login_uri IS NOT NULL \
                 ORDER BY created_at, id LIMIT 1"
            ))
            .bind(org_id)
            .fetch_optional(p)
            .await
        })?;
        row.map(OAuthClient::try_from).transpose()
    }

    /// The person of this organization a verified sign-in names, by the first of `emails` that
    /// is some user's userName or one of their e-mail addresses (any letter case). An address
    /// that fits two people finds nobody: it cannot tell them apart.
    pub async fn find_user_for_sign_in(
        &self,
        org_id: &str,
        emails: &[String],
    ) -> Result<Option<String>> {
        for email in emails {
            let key = email.to_lowercase();
            let ids: Vec<String> = read!(self, |p| {
                sqlx::query_scalar(
                    "SELECT id FROM users WHERE org_id = $1 AND kind = 'human' AND user_name_key = $2 \
                     UNION SELECT u.id FROM user_emails e JOIN users u ON u.id = e.user_id \
                     WHERE e.org_id = $1 AND e.value_key = $2 AND u.kind = 'human' LIMIT 2",
                )
                .bind(org_id)
                .bind(&key)
                .fetch_all(p)
                .await
            })?;
            match ids.as_slice() {
                [one] => return Ok(Some(one.clone())),
                [] => continue,
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The live session whose cookie secret hashes to `secret_hash`.
    pub async fn session_by_hash(&self, secret_hash: &str) -> Result<Option<Session>> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT s.id, s.org_id, s.user_id, s.connection_id, s.auth_time, s.created_at, \
                 s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.secret_hash = $1 AND s.expires_at > $2 AND u.active",
            )
            .bind(secret_hash)
            .bind(now_ms())
            .fetch_optional(p)
            .await
        })?)
    }

    /// Stores an authorization code for a client, from a live session, if its user may still
    /// sign in.
    pub async fn issue_code(
        &self,
        code_hash: &str,
        code: &AuthCode,
    ) -> Result<std::result::Result<(), GrantRefusal>> {
        let backend = self.backend();
        let now = now_ms();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            if !org_exists!(tx, backend, &code.org_id)
                || !connection_is_there!(tx, backend, code.connection_id.as_deref())
            {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if !user_is_active!(tx, backend, &code.org_id, &code.user_id) {
                return Ok(Err(GrantRefusal::UserInactive));
            }
            if !client_is_live!(tx, backend, &code.client_id) {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if let Some(session_id) = &code.session_id {
                let live: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT expires_at FROM sessions WHERE id = $1 AND expires_at > $2{}",
                    for_update(backend)
                ))
                .bind(session_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if live.is_none() {
                    return Ok(Err(GrantRefusal::Invalid));
                }
            }
            insert_code!(tx, code_hash, code, now);
            tx.commit().await?;
        });
        Ok(Ok(()))
    }

    /// Redeems an authorization code for `client_id` (once): stores the access and refresh
    /// tokens and returns what the code stood for, for the caller to check the redirect URI
    /// and PKCE against before answering. A code presented twice ends every token of its
    /// grant (RFC 6749 §4.1.2).
    pub async fn redeem_code(
        &self,
        code_hash: &str,
        client_id: &str,
        check: impl FnOnce(&AuthCode) -> bool,
        access: &TokenDraft,
        refresh: &TokenDraft,
    ) -> Result<std::result::Result<(AuthCode, Issued), GrantRefusal>> {
        let backend = self.backend();
        let now = now_ms();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            #[derive(sqlx::FromRow)]
            struct Row {
                #[sqlx(flatten)]
                code: AuthCode,
                used_at: Option<i64>,
            }
            // The user's row first, as deactivation takes it before their codes and tokens:
            // the other order could deadlock with it on PostgreSQL.
            let owner: Option<(String, String, String, Option<String>)> = sqlx::query_as(
                "SELECT org_id, user_id, grant_id, connection_id FROM oauth_codes \
                 WHERE code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((org_id, user_id, grant_id, connection_id)) = owner else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            if !org_exists!(tx, backend, &org_id)
                || !connection_is_there!(tx, backend, connection_id.as_deref())
            {
                return Ok(Err(GrantRefusal::Invalid));
            }
            let active = user_is_active!(tx, backend, &org_id, &user_id);
            lock_grant!(tx, backend, &grant_id);
            if !client_is_live!(tx, backend, client_id) {
                return Ok(Err(GrantRefusal::Invalid));
            }
            let row: Option<Row> = sqlx::query_as(&format!(
                "SELECT org_id, client_id, user_id, session_id, redirect_uri, scope, nonce, \
                 code_challenge, auth_time, expires_at, grant_id, connection_id, used_at FROM oauth_codes \
                 WHERE code_hash = $1{}",
                for_update(backend)
            ))
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            if row.code.client_id != client_id {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if row.used_at.is_some() {
                sqlx::query("UPDATE oauth_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(&row.code.grant_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(Err(GrantRefusal::Invalid));
            }
            if row.code.expires_at <= now || !check(&row.code) {
                return Ok(Err(GrantRefusal::Invalid));
            }
            sqlx::query("UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2")
                .bind(now)
                .bind(code_hash)
                .execute(&mut *tx)
                .await?;
            if !active {
                tx.commit().await?;
                return Ok(Err(GrantRefusal::UserInactive));
            }
            let issued = Issued {
                connection_id: row.code.connection_id.clone(),
                user_id: row.code.user_id.clone(),
                org_id: row.code.org_id.clone(),
                scope: row.code.scope.clone(),
                auth_time: row.code.auth_time,
                nonce: row.code.nonce.clone(),
                grant_id: row.code.grant_id.clone(),
            };
            insert_tokens!(tx, &issued, client_id, access, refresh);
            tx.commit().await?;
            Ok(Ok((row.code, issued)))
        })
    }

    /// Exchanges a refresh token of `client_id` for a new access and refresh token (the old
    /// refresh token ends). A refresh token used after it was exchanged ends its whole grant:
    /// someone holds a copy.
    pub async fn refresh_grant(
        &self,
        token_hash: &str,
        client_id: &str,
        access: &TokenDraft,
        refresh: &TokenDraft,
    ) -> Result<std::result::Result<Issued, GrantRefusal>> {
        let backend = self.backend();
        let now = now_ms();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            // The user's row first, as in `redeem_code`.
            let owner: Option<(String, String, String, Option<String>)> = sqlx::query_as(
                "SELECT org_id, user_id, grant_id, connection_id FROM oauth_tokens \
                 WHERE token_hash = $1 AND kind = 'refresh'",
            )
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((org_id, user_id, grant_id, connection_id)) = owner else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            if !org_exists!(tx, backend, &org_id)
                || !connection_is_there!(tx, backend, connection_id.as_deref())
            {
                return Ok(Err(GrantRefusal::Invalid));
            }
            let active = user_is_active!(tx, backend, &org_id, &user_id);
            lock_grant!(tx, backend, &grant_id);
            if !client_is_live!(tx, backend, client_id) {
                return Ok(Err(GrantRefusal::Invalid));
            }
            let row: Option<OAuthToken> = sqlx::query_as(&format!(
                "SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE token_hash = $1 AND kind = 'refresh'{}",
                for_update(backend)
            ))
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(old) = row else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            if old.client_id != client_id {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if old.revoked_at.is_some() {
                sqlx::query("UPDATE oauth_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(&old.grant_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(Err(GrantRefusal::Invalid));
            }
            if old.expires_at <= now {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if !active {
                return Ok(Err(GrantRefusal::UserInactive));
            }
            sqlx::query("UPDATE oauth_tokens SET revoked_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&old.id)
                .execute(&mut *tx)
                .await?;
            let issued = Issued {
                connection_id,
                user_id: old.user_id,
                org_id: old.org_id,
                scope: old.scope,
                auth_time: old.auth_time,
                nonce: None,
                grant_id: old.grant_id,
            };
            insert_tokens!(tx, &issued, client_id, access, refresh);
            tx.commit().await?;
            Ok(Ok(issued))
        })
    }

    /// The live access token whose secret hashes to `token_hash`, if its user is active.
    pub async fn access_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        Ok(read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {} FROM oauth_tokens t JOIN users u ON u.id = t.user_id \
                 JOIN oauth_clients c ON c.id = t.client_id \
                 WHERE t.token_hash = $1 AND t.kind = 'access' AND t.revoked_at IS NULL \
                 AND t.expires_at > $2 AND u.active AND c.revoked_at IS NULL",
                TOKEN_COLUMNS
                    .split(", ")
                    .map(|c| format!("t.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(p)
            .await
        })?)
    }

    /// Revokes the token of `client_id` whose secret hashes to `token_hash` (RFC 7009); a
    /// refresh token takes its whole grant with it. Unknown tokens are not an error.
    pub async fn revoke_token(&self, token_hash: &str, client_id: &str) -> Result<()> {
        let now = now_ms();
        let backend = self.backend();
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let row: Option<(String, String)> = sqlx::query_as(
                "SELECT kind, grant_id FROM oauth_tokens WHERE token_hash = $1 AND client_id = $2",
            )
            .bind(token_hash)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((_, grant_id)) = &row {
                lock_grant!(tx, backend, grant_id);
            }
            match row {
                Some((kind, grant_id)) if kind == "refresh" => {
                    sqlx::query("UPDATE oauth_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
                        .bind(now)
                        .bind(&grant_id)
                        .execute(&mut *tx)
                        .await?;
                }
                Some(_) => {
                    sqlx::query("UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE token_hash = $2")
                        .bind(now)
                        .bind(token_hash)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {}
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Forgets what has expired: pending sign-ins, remembered assertions, sessions, codes and
    /// tokens. Returns how many rows went.
    pub async fn prune_sign_in(&self) -> Result<u64> {
        let now = now_ms();
        let mut total = 0;
        // A spent request is kept past its expiry by the clock skew servers sharing the
        // database may have, so none of them can take it for unspent.
        for (table, grace) in [
            ("spent_login_requests", 300_000),
            ("saml_replay", 0),
            ("oauth_codes", 0),
            ("oauth_tokens", 0),
            ("sessions", 0),
        ] {
            total += write!(self, |p| {
                sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                    .bind(now - grace)
                    .execute(p)
                    .await?
                    .rows_affected()
            });
        }
        Ok(total)
    }
}
