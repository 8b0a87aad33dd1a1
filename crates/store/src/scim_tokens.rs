use crate::audit::insert_audit;
use crate::pool::{read, write};
use crate::{now_ms, AuditEvent, Result, ScimToken, Store, StoreError};

const COLUMNS: &str = "id, org_id, name, prefix, created_at, expires_at, last_used_at, revoked_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    name: String,
    prefix: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<Row> for ScimToken {
    fn from(r: Row) -> ScimToken {
        ScimToken {
            id: r.id,
            org_id: r.org_id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

impl Store {
    /// Stores a new SCIM token of this organization (by the hash of its secret) and audits it.
    pub async fn create_scim_token(
        &self,
        org_id: &str,
        token: &ScimToken,
        secret_hash: &str,
        audit: &AuditEvent,
    ) -> Result<ScimToken> {
        write!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO scim_tokens (id, org_id, name, prefix, secret_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&token.id)
            .bind(org_id)
            .bind(&token.name)
            .bind(&token.prefix)
            .bind(secret_hash)
            .bind(now_ms())
            .bind(token.expires_at)
            .execute(&mut *tx)
            .await?;
            let mut audit = audit.clone();
            audit.target.get_or_insert_with(|| token.id.clone());
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            tx.commit().await?;
        });
        self.get_scim_token(org_id, &token.id).await
    }

    /// One SCIM token of this organization.
    pub async fn get_scim_token(&self, org_id: &str, id: &str) -> Result<ScimToken> {
        let row: Option<Row> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM scim_tokens WHERE org_id = $1 AND id = $2"
            ))
            .bind(org_id)
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        row.map(ScimToken::from).ok_or(StoreError::NotFound)
    }

    /// This organization's SCIM tokens, newest first, revoked ones included.
    pub async fn list_scim_tokens(&self, org_id: &str) -> Result<Vec<ScimToken>> {
        let rows: Vec<Row> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM scim_tokens WHERE org_id = $1 ORDER BY created_at DESC, id"
            ))
            .bind(org_id)
            .fetch_all(p)
            .await
        })?;
        Ok(rows.into_iter().map(ScimToken::from).collect())
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
        let row: Option<Row> = read!(self, |p| {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM scim_tokens WHERE secret_hash = $1"
            ))
            .bind(secret_hash)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(ScimToken::from))
    }

    /// Records that a SCIM token was used, unless it was recorded recently.
    pub async fn touch_scim_token(&self, token: &ScimToken) -> Result<()> {
        self.touch("scim_tokens", &token.id, token.last_used_at)
            .await
    }
}
