//! Authorization codes and the access and refresh tokens a grant issues from them.
//!
//! Every token of a grant shares its `grant_id`, so a replayed code or a reused refresh token
//! can end them all (RFC 6749 §4.1.2, §10.4). What every issuance checks first, in the one lock
//! order, is in [`crate::issuance`].

use crate::db::{Columns, Lock, Record, Tx};
use crate::issuance::{
    client_is_live, connection_is_there, lock_grant, org_exists, user_is_active,
};
use crate::{now_ms, Result, Store};

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
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
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct OAuthToken {
    pub id: String,
    /// `access` or `refresh`.
    pub kind: String,
    pub org_id: String,
    pub client_id: String,
    /// `None` for a client-credentials token: the client acts for itself.
    pub user_id: Option<String>,
    pub grant_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

const TOKEN_COLUMNS: &str = "t.id, t.kind, t.org_id, t.client_id, t.user_id, t.grant_id, \
     t.scope, t.auth_time, t.created_at, t.expires_at, t.revoked_at";

/// A live token, with the kind of client it was issued to: `app`, `integration`, or
/// `access_key`.
#[derive(Debug, Clone)]
pub struct LiveToken {
    pub token: OAuthToken,
    pub client_kind: String,
}

impl Record for LiveToken {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok(LiveToken {
            token: OAuthToken::read(row)?,
            client_kind: row.get("client_kind")?,
        })
    }
}

/// A token to store: its keyed hash and lifetime.
#[derive(Debug, Clone)]
pub struct TokenDraft {
    pub token_hash: String,
    pub expires_at: i64,
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

/// The answer of a grant, or why it was refused.
type Granted<T> = std::result::Result<T, GrantRefusal>;

/// Inserts an access token and a refresh token of one grant.
async fn insert_tokens(
    tx: &mut Tx<'_>,
    issued: &Issued,
    client_id: &str,
    drafts: [(&str, &TokenDraft); 2],
) -> Result<()> {
    let now = now_ms();
    for (kind, draft) in drafts {
        tx.execute(
            "INSERT INTO oauth_tokens (id, token_hash, kind, org_id, client_id, user_id, \
             grant_id, scope, auth_time, created_at, expires_at, connection_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                crate::new_id().into(),
                (&draft.token_hash).into(),
                kind.into(),
                (&issued.org_id).into(),
                client_id.into(),
                (&issued.user_id).into(),
                (&issued.grant_id).into(),
                (&issued.scope).into(),
                issued.auth_time.into(),
                now.into(),
                draft.expires_at.into(),
                (&issued.connection_id).into(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Inserts an authorization code.
pub(crate) async fn insert_code(
    tx: &mut Tx<'_>,
    code_hash: &str,
    code: &AuthCode,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO oauth_codes (code_hash, org_id, client_id, user_id, session_id, \
         redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, grant_id, \
         connection_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            code_hash.into(),
            (&code.org_id).into(),
            (&code.client_id).into(),
            (&code.user_id).into(),
            (&code.session_id).into(),
            (&code.redirect_uri).into(),
            (&code.scope).into(),
            (&code.nonce).into(),
            (&code.code_challenge).into(),
            code.auth_time.into(),
            now.into(),
            code.expires_at.into(),
            (&code.grant_id).into(),
            (&code.connection_id).into(),
        ],
    )
    .await?;
    Ok(())
}

/// Ends every token of a grant still live: a code or refresh token presented again means
/// someone holds a copy.
async fn end_grant(tx: &mut Tx<'_>, grant_id: &str, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE oauth_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
        &[now.into(), grant_id.into()],
    )
    .await?;
    Ok(())
}

/// Who a code or refresh token belongs to, read before any lock: `(org, user, grant,
/// connection)`.
type Owner = (String, String, String, Option<String>);

/// Finds who the code or token whose hash is `hash` belongs to (`owner_sql`), then takes the
/// locks a redemption or refresh needs in the one order (organization, connection, user,
/// grant, client): the user's row first, as deactivation takes it before their codes and
/// tokens (the other order could deadlock with it on PostgreSQL). Answers the owner and
/// whether the user may still sign in; `None` when the grant is refused outright.
async fn lock_for_grant(
    tx: &mut Tx<'_>,
    owner_sql: &str,
    hash: &str,
    client_id: &str,
) -> Result<Option<(Owner, bool)>> {
    let Some(owner) = tx.optional::<Owner>(owner_sql, &[hash.into()]).await? else {
        return Ok(None);
    };
    let (org_id, user_id, grant_id, connection_id) = &owner;
    if !org_exists(tx, org_id).await? || !connection_is_there(tx, connection_id.as_deref()).await? {
        return Ok(None);
    }
    let active = user_is_active(tx, org_id, user_id).await?;
    lock_grant(tx, grant_id).await?;
    if !client_is_live(tx, org_id, client_id).await? {
        return Ok(None);
    }
    Ok(Some((owner, active)))
}

impl Store {
    /// Stores an authorization code for a client, from a live session, if its user may still
    /// sign in.
    pub async fn issue_code(&self, code_hash: &str, code: &AuthCode) -> Result<Granted<()>> {
        let now = now_ms();
        self.write(async |tx| {
            if !org_exists(tx, &code.org_id).await?
                || !connection_is_there(tx, code.connection_id.as_deref()).await?
            {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if !user_is_active(tx, &code.org_id, &code.user_id).await? {
                return Ok(Err(GrantRefusal::UserInactive));
            }
            if !client_is_live(tx, &code.org_id, &code.client_id).await? {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if let Some(session_id) = &code.session_id {
                // The session must be the code's user's, in the code's organization.
                let sql = format!(
                    "SELECT expires_at FROM sessions WHERE id = $1 AND expires_at > $2 \
                     AND user_id = $3 AND org_id = $4{}",
                    tx.lock(Lock::Update)
                );
                let binds = [
                    session_id.into(),
                    now.into(),
                    (&code.user_id).into(),
                    (&code.org_id).into(),
                ];
                let live: Option<i64> = tx.value(&sql, &binds).await?;
                if live.is_none() {
                    return Ok(Err(GrantRefusal::Invalid));
                }
            }
            insert_code(tx, code_hash, code, now).await?;
            Ok(Ok(()))
        })
        .await
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
    ) -> Result<Granted<(AuthCode, Issued)>> {
        let now = now_ms();
        self.write(async |tx| {
            let owner_sql = "SELECT org_id, user_id, grant_id, connection_id FROM oauth_codes \
                 WHERE code_hash = $1";
            let Some((_, active)) = lock_for_grant(tx, owner_sql, code_hash, client_id).await?
            else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            let sql = format!(
                "SELECT org_id, client_id, user_id, session_id, redirect_uri, scope, nonce, \
                 code_challenge, auth_time, expires_at, grant_id, connection_id, used_at \
                 FROM oauth_codes WHERE code_hash = $1{}",
                tx.lock(Lock::Update)
            );
            let Some(Code(code, used_at)) = tx.optional(&sql, &[code_hash.into()]).await? else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            if code.client_id != client_id {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if used_at.is_some() {
                end_grant(tx, &code.grant_id, now).await?;
                return Ok(Err(GrantRefusal::Invalid));
            }
            if code.expires_at <= now || !check(&code) {
                return Ok(Err(GrantRefusal::Invalid));
            }
            tx.execute(
                "UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2",
                &[now.into(), code_hash.into()],
            )
            .await?;
            if !active {
                return Ok(Err(GrantRefusal::UserInactive));
            }
            let issued = Issued {
                connection_id: code.connection_id.clone(),
                user_id: code.user_id.clone(),
                org_id: code.org_id.clone(),
                scope: code.scope.clone(),
                auth_time: code.auth_time,
                nonce: code.nonce.clone(),
                grant_id: code.grant_id.clone(),
            };
            let drafts = [("access", access), ("refresh", refresh)];
            insert_tokens(tx, &issued, client_id, drafts).await?;
            Ok(Ok((code, issued)))
        })
        .await
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
    ) -> Result<Granted<Issued>> {
        let now = now_ms();
        self.write(async |tx| {
            let owner_sql = "SELECT org_id, user_id, grant_id, connection_id FROM oauth_tokens \
                 WHERE token_hash = $1 AND kind = 'refresh'";
            let Some((owner, active)) =
                lock_for_grant(tx, owner_sql, token_hash, client_id).await?
            else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            let sql = format!(
                "SELECT {TOKEN_COLUMNS} FROM oauth_tokens t WHERE t.token_hash = $1 \
                 AND t.kind = 'refresh'{}",
                tx.lock(Lock::Update)
            );
            let Some(old) = tx
                .optional::<OAuthToken>(&sql, &[token_hash.into()])
                .await?
            else {
                return Ok(Err(GrantRefusal::Invalid));
            };
            if old.client_id != client_id {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if old.revoked_at.is_some() {
                end_grant(tx, &old.grant_id, now).await?;
                return Ok(Err(GrantRefusal::Invalid));
            }
            if old.expires_at <= now {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if !active {
                return Ok(Err(GrantRefusal::UserInactive));
            }
            tx.execute(
                "UPDATE oauth_tokens SET revoked_at = $1 WHERE id = $2",
                &[now.into(), (&old.id).into()],
            )
            .await?;
            let issued = Issued {
                connection_id: owner.3,
                user_id: owner.1,
                org_id: old.org_id,
                scope: old.scope,
                auth_time: old.auth_time,
                nonce: None,
                grant_id: old.grant_id,
            };
            let drafts = [("access", access), ("refresh", refresh)];
            insert_tokens(tx, &issued, client_id, drafts).await?;
            Ok(Ok(issued))
        })
        .await
    }

    /// The live access token whose secret hashes to `token_hash`: not revoked or expired, its
    /// user (if it has one) active, its client (or access key) live in the token's
    /// organization. Read at every use, so a revocation made through any process sharing the
    /// database holds at the next request.
    pub async fn access_token(&self, token_hash: &str) -> Result<Option<LiveToken>> {
        self.live_token(token_hash, Some("access")).await
    }

    /// A live access or refresh token, for introspection (RFC 7662).
    pub async fn introspect_token(&self, token_hash: &str) -> Result<Option<LiveToken>> {
        self.live_token(token_hash, None).await
    }

    async fn live_token(&self, token_hash: &str, kind: Option<&str>) -> Result<Option<LiveToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS}, CASE WHEN k.id IS NOT NULL THEN 'access_key' \
             ELSE c.kind END AS client_kind FROM oauth_tokens t LEFT JOIN users u ON u.id = t.user_id \
             LEFT JOIN oauth_clients c ON c.id = t.client_id \
             LEFT JOIN access_keys k ON k.id = t.client_id \
             WHERE t.token_hash = $1 AND t.kind = COALESCE($3, t.kind) \
             AND t.revoked_at IS NULL AND t.expires_at > $2 \
             AND (t.user_id IS NULL OR u.active) \
             AND ((c.id IS NOT NULL AND c.revoked_at IS NULL AND c.org_id = t.org_id) \
               OR (k.id IS NOT NULL AND k.revoked_at IS NULL AND k.org_id = t.org_id))"
        );
        self.read(async |tx| {
            tx.optional(&sql, &[token_hash.into(), now_ms().into(), kind.into()])
                .await
        })
        .await
    }

    /// Issues an access token to a client for itself (client credentials, RFC 6749 §4.4): as
    /// the access key's service account (`user_id`), or as no user at all. No refresh token.
    pub async fn issue_client_token(
        &self,
        org_id: &str,
        client_id: &str,
        user_id: Option<&str>,
        scope: &str,
        access: &TokenDraft,
    ) -> Result<Granted<()>> {
        let now = now_ms();
        self.write(async |tx| {
            if !org_exists(tx, org_id).await? {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if let Some(user_id) = user_id {
                if !user_is_active(tx, org_id, user_id).await? {
                    return Ok(Err(GrantRefusal::UserInactive));
                }
            }
            if !client_is_live(tx, org_id, client_id).await? {
                return Ok(Err(GrantRefusal::Invalid));
            }
            tx.execute(
                "INSERT INTO oauth_tokens (id, token_hash, kind, org_id, client_id, user_id, \
                 grant_id, scope, auth_time, created_at, expires_at) \
                 VALUES ($1, $2, 'access', $3, $4, $5, $6, $7, $8, $8, $9)",
                &[
                    crate::new_id().into(),
                    (&access.token_hash).into(),
                    org_id.into(),
                    client_id.into(),
                    user_id.into(),
                    crate::new_id().into(),
                    scope.into(),
                    now.into(),
                    access.expires_at.into(),
                ],
            )
            .await?;
            Ok(Ok(()))
        })
        .await
    }

    /// Revokes the token of `client_id` whose secret hashes to `token_hash` (RFC 7009); a
    /// refresh token takes its whole grant with it. Unknown tokens are not an error.
    pub async fn revoke_token(&self, token_hash: &str, client_id: &str) -> Result<()> {
        let now = now_ms();
        self.write(async |tx| {
            let row: Option<(String, String)> = tx
                .optional(
                    "SELECT kind, grant_id FROM oauth_tokens WHERE token_hash = $1 \
                     AND client_id = $2",
                    &[token_hash.into(), client_id.into()],
                )
                .await?;
            let Some((kind, grant_id)) = row else {
                return Ok(());
            };
            lock_grant(tx, &grant_id).await?;
            if kind == "refresh" {
                end_grant(tx, &grant_id, now).await
            } else {
                tx.execute(
                    "UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, $1) \
                     WHERE token_hash = $2",
                    &[now.into(), token_hash.into()],
                )
                .await
                .map(|_| ())
            }
        })
        .await
    }
}

/// A code with when it was used.
struct Code(AuthCode, Option<i64>);

impl Record for Code {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok(Code(AuthCode::read(row)?, row.get("used_at")?))
    }
}
