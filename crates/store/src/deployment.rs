use crate::pool::{read, write};
use crate::{now_ms, Result, Store};

impl Store {
    /// The value sealed under the master key at first start, if any: proves later that the key
    /// given is the one the stored secrets were encrypted under.
    pub async fn master_key_check(&self) -> Result<Option<String>> {
        let value = read!(self, |p| {
            sqlx::query_scalar("SELECT master_key_check FROM deployment WHERE id = 1")
                .fetch_optional(p)
                .await
        })?;
        Ok(value)
    }

    /// How many issued secrets (operator keys, access keys) are stored: their hashes depend on
    /// the master key, so a database holding any is not fresh, check value or not.
    pub async fn issued_secret_count(&self) -> Result<i64> {
        let n = read!(self, |p| {
            sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM operator_keys) + (SELECT COUNT(*) FROM access_keys) \
                 + (SELECT COUNT(*) FROM scim_tokens)",
            )
            .fetch_one(p)
            .await
        })?;
        Ok(n)
    }

    /// Records the master-key check value unless one exists; returns the value now stored.
    pub async fn init_master_key_check(&self, value: &str) -> Result<String> {
        let stored = write!(self, |p| {
            sqlx::query(
                "INSERT INTO deployment (id, master_key_check, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(value)
            .bind(now_ms())
            .execute(p)
            .await?;
            sqlx::query_scalar("SELECT master_key_check FROM deployment WHERE id = 1")
                .fetch_one(p)
                .await
        })?;
        Ok(stored)
    }
}
