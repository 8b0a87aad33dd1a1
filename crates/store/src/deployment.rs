//! The deployment's own row: the master-key check value.

use crate::{now_ms, Result, Store};

impl Store {
    /// The value sealed under the master key at first start, if any: proves later that the key
    /// given is the one the stored secrets were encrypted under.
    pub async fn master_key_check(&self) -> Result<Option<String>> {
        self.read(async |tx| {
            tx.value("SELECT master_key_check FROM deployment WHERE id = 1", &[])
                .await
        })
        .await
    }

    /// How many issued secrets (operator keys, access keys) are stored: their hashes depend on
    /// the master key, so a database holding any is not fresh, check value or not.
    pub async fn issued_secret_count(&self) -> Result<i64> {
        self.read(async |tx| {
            let (n,) = tx
                .one(
                    "SELECT (SELECT COUNT(*) FROM operator_keys) + (SELECT COUNT(*) FROM access_keys) \
                     + (SELECT COUNT(*) FROM scim_tokens)",
                    &[],
                )
                .await?;
            Ok(n)
        })
        .await
    }

    /// Records the master-key check value unless one exists; returns the value now stored.
    pub async fn init_master_key_check(&self, value: &str) -> Result<String> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO deployment (id, master_key_check, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
                &[value.into(), now_ms().into()],
            )
            .await?;
            let (stored,) = tx
                .one("SELECT master_key_check FROM deployment WHERE id = 1", &[])
                .await?;
            Ok(stored)
        })
        .await
    }
}
