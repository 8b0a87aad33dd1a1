//! Password sign-in: who an identifier names, the session a right password opens, and the
//! single-use invitations where a user sets their password.

use crate::audit::record_on;
use crate::db::{Lock, Record};
use crate::grants::GrantRefusal;
use crate::issuance::{end_sign_in_stmts, org_exists, user_is_active};
use crate::sessions::Session;
use crate::{now_ms, AuditEvent, Result, Store, StoreError, UserKind};

/// What checking a password for an identifier needs.
#[derive(Debug, Clone, Record)]
pub struct PasswordHolder {
    pub user_id: String,
    pub password_hash: Option<String>,
    pub active: bool,
    pub kind: String,
    /// Holds the organization's `Admin` role (who may still use a password where the
    /// organization enforces SSO).
    pub admin: bool,
}

impl PasswordHolder {
    pub fn is_service(&self) -> bool {
        self.kind == UserKind::Service.as_str()
    }
}

/// A single-use activation link, by the keyed hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct Invitation {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Store {
    /// The user of this organization whose userName or one of whose e-mail addresses is
    /// `identifier` (any letter case); nobody when it fits two users.
    pub async fn password_holder(
        &self,
        org_id: &str,
        identifier: &str,
    ) -> Result<Option<PasswordHolder>> {
        let binds = [org_id.into(), identifier.to_lowercase().into()];
        let found: Vec<PasswordHolder> = self
            .read(async |tx| {
                tx.all(
                    "SELECT u.id AS user_id, u.password_hash, u.active, u.kind, \
                     EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                       WHERE ur.user_id = u.id AND r.name_key = 'admin') AS admin \
                     FROM users u WHERE u.id IN (SELECT id FROM users \
                       WHERE org_id = $1 AND user_name_key = $2 \
                       UNION SELECT user_id FROM user_emails WHERE org_id = $1 AND value_key = $2) \
                     LIMIT 2",
                    &binds,
                )
                .await
            })
            .await?;
        Ok(match <[PasswordHolder; 1]>::try_from(found) {
            Ok([one]) => Some(one),
            Err(_) => None,
        })
    }

    /// Opens a session for a user who gave their password, if they may still sign in.
    pub async fn open_password_session(
        &self,
        org_id: &str,
        user_id: &str,
        secret_hash: &str,
        expires_at: i64,
    ) -> Result<std::result::Result<Session, GrantRefusal>> {
        let now = now_ms();
        let session = Session {
            id: crate::new_id(),
            org_id: org_id.to_string(),
            user_id: user_id.to_string(),
            connection_id: None,
            auth_time: now,
            created_at: now,
            expires_at,
        };
        self.write(async |tx| {
            if !org_exists(tx, org_id).await? {
                return Ok(Err(GrantRefusal::Invalid));
            }
            if !user_is_active(tx, org_id, user_id).await? {
                return Ok(Err(GrantRefusal::UserInactive));
            }
            tx.execute(
                "INSERT INTO sessions (id, secret_hash, org_id, user_id, auth_time, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
                &[
                    (&session.id).into(),
                    secret_hash.into(),
                    org_id.into(),
                    user_id.into(),
                    now.into(),
                    expires_at.into(),
                ],
            )
            .await?;
            Ok(Ok(session.clone()))
        })
        .await
    }

    /// Makes an activation link for a user of this organization; links made for them before
    /// and not used end. Audited.
    pub async fn create_invitation(
        &self,
        org_id: &str,
        user_id: &str,
        token_hash: &str,
        expires_at: i64,
        audit: &AuditEvent,
    ) -> Result<Invitation> {
        let now = now_ms();
        let id = crate::new_id();
        self.write(async |tx| {
            let there: Option<String> = tx
                .value(
                    "SELECT id FROM users WHERE org_id = $1 AND id = $2",
                    &[org_id.into(), user_id.into()],
                )
                .await?;
            if there.is_none() {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "DELETE FROM invitations WHERE user_id = $1 AND used_at IS NULL",
                &[user_id.into()],
            )
            .await?;
            tx.execute(
                "INSERT INTO invitations (id, token_hash, org_id, user_id, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    (&id).into(),
                    token_hash.into(),
                    org_id.into(),
                    user_id.into(),
                    now.into(),
                    expires_at.into(),
                ],
            )
            .await?;
            record_on(tx, audit, user_id, Some(org_id)).await
        })
        .await?;
        Ok(Invitation {
            id,
            org_id: org_id.to_string(),
            user_id: user_id.to_string(),
            created_at: now,
            expires_at,
            used_at: None,
        })
    }

    /// The unused, unexpired invitation whose secret hashes to `token_hash`.
    pub async fn open_invitation(&self, token_hash: &str) -> Result<Option<Invitation>> {
        self.read(async |tx| {
            tx.optional(
                "SELECT id, org_id, user_id, created_at, expires_at, used_at FROM invitations \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                &[token_hash.into(), now_ms().into()],
            )
            .await
        })
        .await
    }

    /// Spends an invitation and sets its user's password, in one transaction that also ends
    /// the user's sessions, codes and tokens; `None` when the link is unknown, used or expired.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> Result<Option<Invitation>> {
        let now = now_ms();
        self.write(async |tx| {
            let sql = format!(
                "SELECT id, org_id, user_id, created_at, expires_at, used_at FROM invitations \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2{}",
                tx.lock(Lock::Update)
            );
            let Some(invitation) = tx
                .optional::<Invitation>(&sql, &[token_hash.into(), now.into()])
                .await?
            else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE invitations SET used_at = $1 WHERE id = $2",
                &[now.into(), (&invitation.id).into()],
            )
            .await?;
            tx.change(
                "UPDATE users SET password_hash = $1, version = version + 1, updated_at = $2 \
                 WHERE org_id = $3 AND id = $4",
                &[
                    password_hash.into(),
                    now.into(),
                    (&invitation.org_id).into(),
                    (&invitation.user_id).into(),
                ],
            )
            .await?;
            // A password set anew ends what the old one (or anyone holding it) let in.
            tx.run(end_sign_in_stmts(&invitation.user_id)).await?;
            let mut audit = AuditEvent::success(
                &format!("invitation:{}", invitation.id),
                "user.password.set",
            );
            audit.detail = serde_json::json!({ "via": "invitation" });
            record_on(tx, &audit, &invitation.user_id, Some(&invitation.org_id)).await?;
            Ok(Some(invitation))
        })
        .await
    }
}
