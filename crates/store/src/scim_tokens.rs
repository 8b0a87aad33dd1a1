//! SCIM tokens: the bearer credentials an IdP provisions with, stored by their keyed hash.

use crate::audit::record_on;
use crate::{now_ms, AuditEvent, Result, ScimToken, Store, StoreError};

const COLUMNS: &str = "id, org_id, name, prefix, created_at, expires_at, last_used_at, revoked_at";

impl Store {
    /// Stores a new SCIM token of this organization (by the hash of its secret) and audits it.
    pub async fn create_scim_token(
        &self,
        org_id: &str,
        token: &ScimToken,
        secret_hash: &str,
        audit: &AuditEvent,
    ) -> Result<ScimToken> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO scim_tokens (id, org_id, name, prefix, secret_hash, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    (&token.id).into(),
                    org_id.into(),
                    (&token.name).into(),
                    (&token.prefix).into(),
                    secret_hash.into(),
                    now_ms().into(),
                    token.expires_at.into(),
                ],
            )
            .await?;
            record_on(tx, audit, &token.id, Some(org_id)).await
        })
        .await?;
        self.get_scim_token(org_id, &token.id).await
    }

    /// One SCIM token of this organization.
    pub async fn get_scim_token(&self, org_id: &str, id: &str) -> Result<ScimToken> {
        let sql = format!("SELECT {COLUMNS} FROM scim_tokens WHERE org_id = $1 AND id = $2");
        self.read(async |tx| tx.optional(&sql, &[org_id.into(), id.into()]).await)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// This organization's SCIM tokens, newest first, revoked ones included.
    pub async fn list_scim_tokens(&self, org_id: &str) -> Result<Vec<ScimToken>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM scim_tokens WHERE org_id = $1 ORDER BY created_at DESC, id"
        );
        self.read(async |tx| tx.all(&sql, &[org_id.into()]).await)
            .await
    }

    /// Revokes a SCIM token (keeping the first revocation time) and audits it.
    pub async fn revoke_scim_token(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.revoke(
            "scim_tokens",
            &[("org_id", org_id), ("id", id)],
            Some(org_id),
            audit,
        )
        .await
    }

    /// The SCIM token whose secret hashes to `secret_hash` (an exact match on a keyed hash: the
    /// comparison reveals nothing about the secret).
    pub async fn scim_token_by_hash(&self, secret_hash: &str) -> Result<Option<ScimToken>> {
        let sql = format!("SELECT {COLUMNS} FROM scim_tokens WHERE secret_hash = $1");
        self.read(async |tx| tx.optional(&sql, &[secret_hash.into()]).await)
            .await
    }

    /// Records that a SCIM token was used, unless it was recorded recently.
    pub async fn touch_scim_token(&self, token: &ScimToken) -> Result<()> {
        self.touch("scim_tokens", &token.id, token.last_used_at)
            .await
    }
}
