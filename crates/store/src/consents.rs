//! Consents: a user's word that an integration client may act for them, remembered per user
//! and client until revoked (by the user's admin, or by revoking the client).

use crate::audit::record_on;
use crate::db::Record;
use crate::{now_ms, AuditEvent, Result, Store};

/// A remembered consent.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    pub org_id: String,
    pub scope: String,
    pub created_at: i64,
}

const COLUMNS: &str = "user_id, client_id, org_id, scope, created_at";

impl Store {
    /// The consent `user_id` gave `client_id`, if any.
    pub async fn consent(
        &self,
        org_id: &str,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<Consent>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM oauth_consents WHERE org_id = $1 AND user_id = $2 \
             AND client_id = $3"
        );
        let binds = [org_id.into(), user_id.into(), client_id.into()];
        self.read(async |tx| tx.optional(&sql, &binds).await).await
    }

    /// Remembers (or renews) a consent, audited as the user's.
    pub async fn remember_consent(&self, consent: &Consent) -> Result<()> {
        let mut audit = AuditEvent::success(&format!("user:{}", consent.user_id), "consent.give");
        audit.detail =
            serde_json::json!({ "client_id": consent.client_id, "scope": consent.scope });
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO oauth_consents (user_id, client_id, org_id, scope, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, client_id) \
                 DO UPDATE SET scope = excluded.scope, created_at = excluded.created_at",
                &[
                    (&consent.user_id).into(),
                    (&consent.client_id).into(),
                    (&consent.org_id).into(),
                    (&consent.scope).into(),
                    now_ms().into(),
                ],
            )
            .await?;
            record_on(tx, &audit, &consent.client_id, Some(&consent.org_id)).await
        })
        .await
    }

    /// A user's consents, oldest first.
    pub async fn list_consents(&self, org_id: &str, user_id: &str) -> Result<Vec<Consent>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM oauth_consents WHERE org_id = $1 AND user_id = $2 \
             ORDER BY created_at, client_id"
        );
        self.read(async |tx| tx.all(&sql, &[org_id.into(), user_id.into()]).await)
            .await
    }

    /// Forgets a consent: the client asks again at the user's next sign-in. Its tokens for the
    /// user end with it.
    pub async fn revoke_consent(
        &self,
        org_id: &str,
        user_id: &str,
        client_id: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        let binds = [org_id.into(), user_id.into(), client_id.into()];
        self.write(async |tx| {
            tx.change(
                "DELETE FROM oauth_consents WHERE org_id = $1 AND user_id = $2 AND client_id = $3",
                &binds,
            )
            .await?;
            for table in ["oauth_codes", "oauth_tokens"] {
                let sql = format!(
                    "DELETE FROM {table} WHERE org_id = $1 AND user_id = $2 AND client_id = $3"
                );
                tx.execute(&sql, &binds).await?;
            }
            record_on(tx, audit, client_id, Some(org_id)).await
        })
        .await
    }
}
