//! The admin console's sessions: opened by a sign-in (hanging off its sign-in session) or by an
//! operator key, each with an idle and an absolute limit, a CSRF secret and a language; and the
//! console's own OAuth client in each organization, through which its users sign in.

use crate::db::Record;
use crate::oauth_clients::OAuthClient;
use crate::{now_ms, Result, Store, StoreError};

/// A live console session.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct ConsoleSession {
    pub id: String,
    /// The sign-in session it was opened by (a user's), or none (an operator's).
    pub session_id: Option<String>,
    pub operator_key_id: Option<String>,
    /// A user's organization; the organization an operator chose, if any.
    pub org_id: Option<String>,
    /// The signed-in user (none for an operator).
    pub user_id: Option<String>,
    pub csrf: String,
    pub locale: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// Who a console session is opened for.
pub enum ConsoleHolder<'a> {
    /// A user, through the sign-in session their sign-in opened.
    SignIn {
        session_id: &'a str,
    },
    Operator {
        key_id: &'a str,
    },
}

/// A touch of `last_seen_at` is written at most this often: the idle limit is minutes long.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The console's client id in an organization: one per organization, made when first needed.
pub fn console_client_id(org_id: &str) -> String {
    format!("console_{org_id}")
}

impl Store {
    /// Opens a console session whose cookie secret hashes to `secret_hash`; it ends `absolute_ms`
    /// from now at the latest.
    pub async fn open_console_session(
        &self,
        secret_hash: &str,
        holder: ConsoleHolder<'_>,
        csrf: &str,
        locale: &str,
        absolute_ms: i64,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        let (session_id, operator_key_id) = match holder {
            ConsoleHolder::SignIn { session_id } => (Some(session_id), None),
            ConsoleHolder::Operator { key_id } => (None, Some(key_id)),
        };
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO console_sessions (id, secret_hash, session_id, operator_key_id, \
                 org_id, csrf, locale, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, \
                 (SELECT org_id FROM sessions WHERE id = $3), $5, $6, $7, $7, $8)",
                &[
                    id.as_str().into(),
                    secret_hash.into(),
                    session_id.into(),
                    operator_key_id.into(),
                    csrf.into(),
                    locale.into(),
                    now.into(),
                    (now + absolute_ms).into(),
                ],
            )
            .await
        })
        .await?;
        Ok(id)
    }

    /// The live console session whose cookie secret hashes to `secret_hash`: seen within
    /// `idle_ms`, not past its absolute end, its sign-in session live and its user active (or its
    /// operator key unrevoked).
    /// Being read marks it seen.
    pub async fn console_session(
        &self,
        secret_hash: &str,
        idle_ms: i64,
    ) -> Result<Option<ConsoleSession>> {
        let now = now_ms();
        let found: Option<ConsoleSession> = self
            .read(async |tx| {
                tx.optional(
                    "SELECT c.id, c.session_id, c.operator_key_id, c.org_id, s.user_id, c.csrf, \
                     c.locale, c.created_at, c.last_seen_at, c.expires_at \
                     FROM console_sessions c \
                     LEFT JOIN sessions s ON s.id = c.session_id \
                     LEFT JOIN users u ON u.id = s.user_id \
                     LEFT JOIN operator_keys k ON k.id = c.operator_key_id \
                     WHERE c.secret_hash = $1 AND c.expires_at > $2 AND c.last_seen_at > $3 \
                     AND ((s.id IS NOT NULL AND s.expires_at > $2 AND u.active) \
                          OR (k.id IS NOT NULL AND k.revoked_at IS NULL))",
                    &[secret_hash.into(), now.into(), (now - idle_ms).into()],
                )
                .await
            })
            .await?;
        if let Some(session) = &found {
            if now - session.last_seen_at >= TOUCH_EVERY_MS {
                self.write(async |tx| {
                    tx.execute(
                        "UPDATE console_sessions SET last_seen_at = $1 WHERE id = $2",
                        &[now.into(), session.id.as_str().into()],
                    )
                    .await
                })
                .await?;
            }
        }
        Ok(found)
    }

    /// Changes the organization an operator's session works in (a user's stays their own).
    pub async fn set_console_org(&self, id: &str, org_id: &str) -> Result<()> {
        self.write(async |tx| {
            tx.change(
                "UPDATE console_sessions SET org_id = $1 WHERE id = $2 \
                 AND operator_key_id IS NOT NULL",
                &[org_id.into(), id.into()],
            )
            .await
        })
        .await
        .map(|_| ())
    }

    /// Remembers the language a session chose.
    pub async fn set_console_locale(&self, id: &str, locale: &str) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "UPDATE console_sessions SET locale = $1 WHERE id = $2",
                &[locale.into(), id.into()],
            )
            .await
        })
        .await
        .map(|_| ())
    }

    /// Ends a console session (sign-out). A user's sign-in session ends with it, so signing in
    /// again asks again.
    pub async fn end_console_session(&self, id: &str) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "DELETE FROM sessions WHERE id = \
                 (SELECT session_id FROM console_sessions WHERE id = $1)",
                &[id.into()],
            )
            .await?;
            tx.execute("DELETE FROM console_sessions WHERE id = $1", &[id.into()])
                .await
        })
        .await
        .map(|_| ())
    }

    /// The console's client in this organization, made on first use: a public client (PKCE)
    /// whose one redirect URI is the console's callback. The admin API lists and changes none
    /// of these.
    pub async fn console_client(&self, org_id: &str, redirect_uri: &str) -> Result<OAuthClient> {
        let id = console_client_id(org_id);
        // Read first: a sign-in start writes only when the client is missing or the public URL
        // (hence its redirect URI) changed.
        if let Some((client, _)) = self.oauth_client(&id).await? {
            if client.redirect_uris == [redirect_uri] {
                return Ok(client);
            }
        }
        let uris = serde_json::to_string(&[redirect_uri])?;
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO oauth_clients (id, org_id, name, redirect_uris, initiate_login_uri, \
                 secret_hash, created_at, description, contacts, kind, client_type, \
                 token_endpoint_auth_method, scopes, fedramp) \
                 VALUES ($1, $2, 'Admin console', $3, NULL, NULL, $4, '', '[]', 'console', \
                 'public', 'none', '[\"openid\",\"profile\",\"email\"]', FALSE) \
                 ON CONFLICT (id) DO UPDATE SET redirect_uris = excluded.redirect_uris",
                &[
                    id.as_str().into(),
                    org_id.into(),
                    uris.into(),
                    now_ms().into(),
                ],
            )
            .await
        })
        .await?;
        let (client, _) = self.oauth_client(&id).await?.ok_or(StoreError::NotFound)?;
        Ok(client)
    }
}
