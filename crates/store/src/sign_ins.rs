//! Completing a SAML sign-in: the pending request it answers is spent once, the assertion is
//! remembered (a replay is refused), and a session and an authorization code are issued. Also
//! the pruning of everything sign-in keeps for a while.

use crate::db::{Lock, Tx};
use crate::grants::{insert_code, AuthCode, GrantRefusal};
use crate::issuance::{client_is_live, org_exists, user_is_active};
use crate::sessions::Session;
use crate::{now_ms, Result, Store};

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
    /// What Lanyard's own sign-in forms carry to name this sign-in: a random value of its own,
    /// never sent to the IdP (the ID above is), so whoever learns the AuthnRequest cannot post
    /// the forms.
    #[serde(default)]
    pub form_nonce: String,
    /// The session whose user was asked to consent: the answer counts only from it.
    #[serde(default)]
    pub consent_session: Option<String>,
}

/// A verified SAML sign-in to record: the assertion consumed, the session it opens, and the
/// authorization code handed to the client.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    /// The pending sign-in answered, and the code issued to its client (`None` when the user
    /// is still to consent to the client: the session alone is opened).
    pub request: &'a LoginRequest,
    pub code_hash: Option<&'a str>,
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

/// Whether the connection still trusts what verified the Response: still turned on, the same
/// IdP, and every certificate tried still on it. Read under a shared lock.
async fn connection_still_trusts(tx: &mut Tx<'_>, sign_in: &SignIn<'_>) -> Result<bool> {
    let sql = format!(
        "SELECT idp_entity_id, certificates FROM sso_connections WHERE org_id = $1 AND id = $2 \
         AND enabled{}",
        tx.lock(Lock::Share)
    );
    let binds = [
        (&sign_in.request.org_id).into(),
        sign_in.connection_id.into(),
    ];
    let Some((idp_entity_id, certificates)) = tx.optional::<(String, String)>(&sql, &binds).await?
    else {
        return Ok(false);
    };
    let current: Vec<String> = serde_json::from_str(&certificates)?;
    Ok(idp_entity_id == sign_in.idp_entity_id
        && sign_in.certificates.iter().all(|c| current.contains(c)))
}

/// Spends the request and remembers the assertion; false when either was spent already.
async fn spend(tx: &mut Tx<'_>, sign_in: &SignIn<'_>) -> Result<bool> {
    let request = sign_in.request;
    let spent = tx
        .execute(
            "INSERT INTO spent_login_requests (id, expires_at) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
            &[(&request.id).into(), request.expires_at.into()],
        )
        .await?;
    if spent == 0 {
        return Ok(false);
    }
    let fresh = tx
        .execute(
            "INSERT INTO saml_replay (audience, assertion_id, expires_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[
                sign_in.audience.into(),
                sign_in.assertion_id.into(),
                sign_in.assertion_expires_at.into(),
            ],
        )
        .await?;
    Ok(fresh != 0)
}

/// A refusal after which what was written stands: an inactive user's request and assertion
/// stay spent. Any other refusal undoes the transaction.
fn keeps_writes(outcome: &std::result::Result<(), GrantRefusal>) -> bool {
    !matches!(outcome, Err(GrantRefusal::Invalid))
}

impl Store {
    /// Remembers a verified assertion that opens no session (IdP-initiated); false when it was
    /// seen already, so a Response posted twice is acted on once.
    pub async fn spend_assertion(
        &self,
        audience: &str,
        assertion_id: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let fresh = self
            .write(async |tx| {
                tx.execute(
                    "INSERT INTO saml_replay (audience, assertion_id, expires_at) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[audience.into(), assertion_id.into(), expires_at.into()],
                )
                .await
            })
            .await?;
        Ok(fresh != 0)
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
        let now = now_ms();
        let request = sign_in.request;
        let org_id = request.org_id.as_str();
        if request.expires_at <= now {
            return Ok(Err(GrantRefusal::Invalid));
        }
        let session = Session {
            id: crate::new_id(),
            org_id: org_id.to_string(),
            user_id: user_id.to_string(),
            connection_id: Some(sign_in.connection_id.to_string()),
            auth_time,
            created_at: now,
            expires_at: sign_in.session_expires_at,
        };
        let done = self
            .write_keeping(
                async |tx| {
                    if !org_exists(tx, org_id).await?
                        || !connection_still_trusts(tx, sign_in).await?
                    {
                        return Ok(Err(GrantRefusal::Invalid));
                    }
                    let active = user_is_active(tx, org_id, user_id).await?;
                    if !spend(tx, sign_in).await? {
                        return Ok(Err(GrantRefusal::Invalid));
                    }
                    if !active {
                        return Ok(Err(GrantRefusal::UserInactive));
                    }
                    if !client_is_live(tx, org_id, &request.client_id).await? {
                        return Ok(Err(GrantRefusal::Invalid));
                    }
                    open_session(tx, sign_in, &session).await?;
                    Ok(Ok(()))
                },
                keeps_writes,
            )
            .await?;
        Ok(done.map(|()| session))
    }

    /// Forgets what has expired: pending sign-ins, remembered assertions, sessions (the console's too), codes
    /// and tokens. Returns how many rows went.
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
            ("console_sessions", 0),
        ] {
            let sql = format!("DELETE FROM {table} WHERE expires_at <= $1");
            total += self
                .write(async |tx| tx.execute(&sql, &[(now - grace).into()]).await)
                .await?;
        }
        Ok(total)
    }
}

/// Opens the session and stores the authorization code it hands the client.
async fn open_session(tx: &mut Tx<'_>, sign_in: &SignIn<'_>, session: &Session) -> Result<()> {
    let request = sign_in.request;
    tx.execute(
        "INSERT INTO sessions (id, secret_hash, org_id, user_id, connection_id, auth_time, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            (&session.id).into(),
            sign_in.session_hash.into(),
            (&session.org_id).into(),
            (&session.user_id).into(),
            sign_in.connection_id.into(),
            session.auth_time.into(),
            session.created_at.into(),
            session.expires_at.into(),
        ],
    )
    .await?;
    let Some(code_hash) = sign_in.code_hash else {
        return Ok(());
    };
    let code = AuthCode {
        org_id: session.org_id.clone(),
        client_id: request.client_id.clone(),
        user_id: session.user_id.clone(),
        session_id: Some(session.id.clone()),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: session.auth_time,
        expires_at: sign_in.code_expires_at,
        grant_id: crate::new_id(),
        connection_id: Some(sign_in.connection_id.to_string()),
    };
    insert_code(tx, code_hash, &code, session.created_at).await
}
