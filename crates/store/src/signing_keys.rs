//! ID-token signing keys: made once for the deployment, the private half sealed by the server.

use crate::db::{Record, Serial};
use crate::{Result, Store};

/// An ID-token signing key; `private_key` is sealed by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct SigningKey {
    pub id: String,
    pub algorithm: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
}

impl Store {
    /// The signing keys in use, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        self.read(async |tx| {
            tx.all(
                "SELECT id, algorithm, private_key, public_jwk, created_at FROM signing_keys \
                 WHERE retired_at IS NULL ORDER BY created_at DESC, id DESC",
                &[],
            )
            .await
        })
        .await
    }

    /// Stores `key` unless a key is already in use (servers starting together make one key
    /// between them); returns the keys in use.
    pub async fn ensure_signing_key(&self, key: &SigningKey) -> Result<Vec<SigningKey>> {
        self.write(async |tx| {
            tx.serialize(Serial::SigningKeys).await?;
            let (present,): (i64,) = tx
                .one(
                    "SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL",
                    &[],
                )
                .await?;
            if present == 0 {
                tx.execute(
                    "INSERT INTO signing_keys (id, algorithm, private_key, public_jwk, \
                     created_at) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        (&key.id).into(),
                        (&key.algorithm).into(),
                        (&key.private_key).into(),
                        (&key.public_jwk).into(),
                        key.created_at.into(),
                    ],
                )
                .await?;
            }
            Ok(())
        })
        .await?;
        self.signing_keys().await
    }
}
