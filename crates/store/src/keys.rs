use crate::audit::insert_audit;
use crate::pool::{read, write};
use crate::{
    now_ms, AccessKey, AccessKeyCredential, AuditEvent, OperatorKey, Result, Store, StoreError,
    UserKind,
};

/// `last_used_at` is written at most this often per key, so authenticated reads stay reads.
pub const LAST_USED_GRANULARITY_MS: i64 = 60_000;

#[derive(sqlx::FromRow)]
struct AccessKeyRow {
    id: String,
    org_id: String,
    user_id: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<AccessKeyRow> for AccessKey {
    fn from(r: AccessKeyRow) -> AccessKey {
        AccessKey {
            id: r.id,
            org_id: r.org_id,
            user_id: r.user_id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    #[sqlx(flatten)]
    key: AccessKeyRow,
    secret_hash: String,
    active: bool,
    kind: String,
}

#[derive(sqlx::FromRow)]
struct OperatorKeyRow {
    id: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct OperatorKeyHashRow {
    #[sqlx(flatten)]
    key: OperatorKeyRow,
    secret_hash: String,
}

impl From<OperatorKeyRow> for OperatorKey {
    fn from(r: OperatorKeyRow) -> OperatorKey {
        OperatorKey {
            id: r.id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
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
        key_id: &str,
        secret_hash: &str,
        audit: &AuditEvent,
    ) -> Result<AccessKey> {
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let user: Option<(String, i64)> =
                sqlx::query_as("SELECT kind, version FROM users WHERE org_id = $1 AND id = $2")
                    .bind(org_id)
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
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
            sqlx::query(
                "INSERT INTO access_keys (id, org_id, user_id, secret_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(key_id)
            .bind(org_id)
            .bind(user_id)
            .bind(secret_hash)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            let mut audit = audit.clone();
            audit.target.get_or_insert_with(|| key_id.to_string());
            insert_audit!(&mut *tx, &audit, Some(org_id))?;
            tx.commit().await?;
        });
        self.get_access_key(org_id, user_id, key_id).await
    }

    /// One access key of a user of this organization.
    pub async fn get_access_key(
        &self,
        org_id: &str,
        user_id: &str,
        key_id: &str,
    ) -> Result<AccessKey> {
        let row: Option<AccessKeyRow> = read!(self, |p| {
            sqlx::query_as(
                "SELECT id, org_id, user_id, created_at, last_used_at, revoked_at FROM access_keys \
                 WHERE org_id = $1 AND user_id = $2 AND id = $3",
            )
            .bind(org_id)
            .bind(user_id)
            .bind(key_id)
            .fetch_optional(p)
            .await
        })?;
        row.map(AccessKey::from).ok_or(StoreError::NotFound)
    }

    /// A user's access keys, newest first, revoked ones included.
    pub async fn list_access_keys(&self, org_id: &str, user_id: &str) -> Result<Vec<AccessKey>> {
        let rows: Vec<AccessKeyRow> = read!(self, |p| {
            sqlx::query_as(
                "SELECT id, org_id, user_id, created_at, last_used_at, revoked_at FROM access_keys \
                 WHERE org_id = $1 AND user_id = $2 ORDER BY created_at DESC, id",
            )
            .bind(org_id)
            .bind(user_id)
            .fetch_all(p)
            .await
        })?;
        Ok(rows.into_iter().map(AccessKey::from).collect())
    }

    /// Revokes an access key (idempotent: revoking again keeps the first time) and audits it.
    pub async fn revoke_access_key(
        &self,
        org_id: &str,
        user_id: &str,
        key_id: &str,
        audit: &AuditEvent,
    ) -> Result<AccessKey> {
        let matching = [("org_id", org_id), ("user_id", user_id), ("id", key_id)];
        self.revoke("access_keys", &matching, Some(org_id), audit)
            .await?;
        self.get_access_key(org_id, user_id, key_id).await
    }

    /// What authenticating `key_id` needs: the key, its secret's hash and its user's state.
    pub async fn access_key_credential(&self, key_id: &str) -> Result<Option<AccessKeyCredential>> {
        let row: Option<CredentialRow> = read!(self, |p| {
            sqlx::query_as(
                "SELECT k.id, k.org_id, k.user_id, k.created_at, k.last_used_at, k.revoked_at, \
                 k.secret_hash, u.active, u.kind FROM access_keys k \
                 JOIN users u ON u.id = k.user_id AND u.org_id = k.org_id WHERE k.id = $1",
            )
            .bind(key_id)
            .fetch_optional(p)
            .await
        })?;
        row.map(|r| {
            Ok(AccessKeyCredential {
                key: r.key.into(),
                secret_hash: r.secret_hash,
                user_active: r.active,
                user_kind: UserKind::parse(&r.kind)?,
            })
        })
        .transpose()
    }

    /// Records that an access key was used, unless it was recorded recently.
    pub async fn touch_access_key(&self, key: &AccessKey) -> Result<()> {
        self.touch("access_keys", &key.id, key.last_used_at).await
    }

    /// Stores a new operator key by the hash of its secret, and audits it.
    pub async fn create_operator_key(
        &self,
        id: &str,
        secret_hash: &str,
        audit: &AuditEvent,
    ) -> Result<OperatorKey> {
        write!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO operator_keys (id, secret_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(secret_hash)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            let mut audit = audit.clone();
            audit.target.get_or_insert_with(|| id.to_string());
            insert_audit!(&mut *tx, &audit, None)?;
            tx.commit().await?;
        });
        Ok(self
            .operator_key_by_hash(secret_hash)
            .await?
            .ok_or(StoreError::NotFound)?
            .0)
    }

    /// The operator key whose secret hashes to `secret_hash`, with the stored hash (for a
    /// constant-time comparison by the caller).
    pub async fn operator_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<(OperatorKey, String)>> {
        let row: Option<OperatorKeyHashRow> = read!(self, |p| {
            sqlx::query_as(
                "SELECT id, created_at, last_used_at, revoked_at, secret_hash FROM operator_keys \
                 WHERE secret_hash = $1",
            )
            .bind(secret_hash)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(|r| (r.key.into(), r.secret_hash)))
    }

    /// Every operator key, newest first.
    pub async fn list_operator_keys(&self) -> Result<Vec<OperatorKey>> {
        let rows: Vec<OperatorKeyRow> = read!(self, |p| {
            sqlx::query_as(
                "SELECT id, created_at, last_used_at, revoked_at FROM operator_keys \
                 ORDER BY created_at DESC, id",
            )
            .fetch_all(p)
            .await
        })?;
        Ok(rows.into_iter().map(OperatorKey::from).collect())
    }

    /// Revokes an operator key and audits it.
    pub async fn revoke_operator_key(&self, id: &str, audit: &AuditEvent) -> Result<()> {
        self.revoke("operator_keys", &[("id", id)], None, audit)
            .await
    }

    /// Sets `revoked_at` (keeping an earlier one) on the row of `table` matching every
    /// `column = value` in `matching`, and audits it in the same transaction; no such row is
    /// [`StoreError::NotFound`].
    pub(crate) async fn revoke(
        &self,
        table: &'static str,
        matching: &[(&'static str, &str)],
        org_id: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<()> {
        let conditions: Vec<String> = matching
            .iter()
            .enumerate()
            .map(|(i, (column, _))| format!("{column} = ${}", i + 2))
            .collect();
        let sql = format!(
            "UPDATE {table} SET revoked_at = COALESCE(revoked_at, $1) WHERE {}",
            conditions.join(" AND ")
        );
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let mut query = sqlx::query(&sql).bind(now_ms());
            for (_, value) in matching {
                query = query.bind(*value);
            }
            if query.execute(&mut *tx).await?.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(&mut *tx, audit, org_id)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records that an operator key was used, unless it was recorded recently.
    pub async fn touch_operator_key(&self, key: &OperatorKey) -> Result<()> {
        self.touch("operator_keys", &key.id, key.last_used_at).await
    }

    pub(crate) async fn touch(
        &self,
        table: &'static str,
        id: &str,
        last_used_at: Option<i64>,
    ) -> Result<()> {
        let now = now_ms();
        if last_used_at.is_some_and(|t| now - t < LAST_USED_GRANULARITY_MS) {
            return Ok(());
        }
        let sql = format!("UPDATE {table} SET last_used_at = $1 WHERE id = $2");
        write!(self, |p| sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
