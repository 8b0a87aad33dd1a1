//! Access keys: the credentials of an organization's service accounts, stored by the keyed
//! hash of their secret.

use crate::audit::record_on;
use crate::db::{Columns, Record};
use crate::oauth_clients::end_client_grants;
use crate::{
    now_ms, AccessKey, AccessKeyCredential, AuditEvent, NewAccessKey, Result, Store, StoreError,
    UserKind,
};

const COLUMNS: &str = "id, org_id, user_id, redirect_uris, created_at, last_used_at, revoked_at";

impl Record for AccessKeyCredential {
    fn read(row: &impl Columns) -> Result<Self> {
        Ok(AccessKeyCredential {
            key: AccessKey::read(row)?,
            secret_hash: row.get("secret_hash")?,
            user_active: row.get("active")?,
            user_kind: UserKind::parse(&row.get::<String>("kind")?)?,
        })
    }
}

impl Store {
    /// Stores a new access key (its id and the hash of its secret) for a service account of
    /// this organization, and audits it. Keys go only to service accounts, and only while the
    /// account is at `user_version`.
    pub async fn create_access_key(
        &self,
        org_id: &str,
        user_id: &str,
        user_version: i64,
        key: &NewAccessKey<'_>,
        audit: &AuditEvent,
    ) -> Result<AccessKey> {
        let NewAccessKey {
            id: key_id,
            secret_hash,
            redirect_uris,
        } = *key;
        let redirect_uris = serde_json::to_string(redirect_uris)?;
        self.write(async |tx| {
            let user: Option<(String, i64)> = tx
                .optional(
                    "SELECT kind, version FROM users WHERE org_id = $1 AND id = $2",
                    &[org_id.into(), user_id.into()],
                )
                .await?;
            match user.as_ref().map(|(k, v)| (k.as_str(), *v)) {
                None => return Err(StoreError::NotFound),
                // The caller checked the account at `user_version`; a change since (new roles,
                // say) must be checked again, not slipped past.
                Some((_, current)) if current != user_version => {
                    return Err(StoreError::VersionMismatch { current })
                }
                Some((k, _)) if k != UserKind::Service.as_str() => {
                    return Err(StoreError::Conflict(
                        "access keys belong to service accounts only".into(),
                    ))
                }
                Some(_) => {}
            }
            tx.execute(
                "INSERT INTO access_keys (id, org_id, user_id, secret_hash, created_at, \
                 redirect_uris) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    key_id.into(),
                    org_id.into(),
                    user_id.into(),
                    secret_hash.into(),
                    now_ms().into(),
                    (&redirect_uris).into(),
                ],
            )
            .await?;
            record_on(tx, audit, key_id, Some(org_id)).await
        })
        .await?;
        self.get_access_key(org_id, user_id, key_id).await
    }

    /// One access key of a user of this organization.
    pub async fn get_access_key(
        &self,
        org_id: &str,
        user_id: &str,
        key_id: &str,
    ) -> Result<AccessKey> {
        let sql = format!(
            "SELECT {COLUMNS} FROM access_keys WHERE org_id = $1 AND user_id = $2 AND id = $3"
        );
        let binds = [org_id.into(), user_id.into(), key_id.into()];
        self.read(async |tx| tx.optional(&sql, &binds).await)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// A user's access keys, newest first, revoked ones included.
    pub async fn list_access_keys(&self, org_id: &str, user_id: &str) -> Result<Vec<AccessKey>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM access_keys WHERE org_id = $1 AND user_id = $2 \
             ORDER BY created_at DESC, id"
        );
        self.read(async |tx| tx.all(&sql, &[org_id.into(), user_id.into()]).await)
            .await
    }

    /// Revokes an access key (idempotent: revoking again keeps the first time) and audits it;
    /// what it was issued as an OAuth client (codes, tokens, consents) ends with it.
    pub async fn revoke_access_key(
        &self,
        org_id: &str,
        user_id: &str,
        key_id: &str,
        audit: &AuditEvent,
    ) -> Result<AccessKey> {
        self.write(async |tx| {
            tx.change(
                "UPDATE access_keys SET revoked_at = COALESCE(revoked_at, $1) \
                 WHERE org_id = $2 AND user_id = $3 AND id = $4",
                &[
                    now_ms().into(),
                    org_id.into(),
                    user_id.into(),
                    key_id.into(),
                ],
            )
            .await?;
            end_client_grants(tx, key_id).await?;
            record_on(tx, audit, key_id, Some(org_id)).await
        })
        .await?;
        self.get_access_key(org_id, user_id, key_id).await
    }

    /// What authenticating `key_id` needs: the key, its secret's hash and its user's state.
    pub async fn access_key_credential(&self, key_id: &str) -> Result<Option<AccessKeyCredential>> {
        self.read(async |tx| {
            tx.optional(
                "SELECT k.id, k.org_id, k.user_id, k.redirect_uris, k.created_at, k.last_used_at, k.revoked_at, \
                 k.secret_hash, u.active, u.kind FROM access_keys k \
                 JOIN users u ON u.id = k.user_id AND u.org_id = k.org_id WHERE k.id = $1",
                &[key_id.into()],
            )
            .await
        })
        .await
    }

    /// Records that an access key was used, unless it was recorded recently.
    pub async fn touch_access_key(&self, key: &AccessKey) -> Result<()> {
        self.touch("access_keys", &key.id, key.last_used_at).await
    }
}
