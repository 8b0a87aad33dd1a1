//! Organizations (tenants), their claimed e-mail domains and settings.

use crate::audit::{record, record_on};
use crate::db::Tx;
use crate::roles::insert_role;
use crate::{
    new_id, now_ms, AuditEvent, NewOrganization, Organization, OrganizationPatch, Page, Result,
    Store, StoreError,
};

const ORG_COLUMNS: &str =
    "id, short_name, display_name, business_unit_id, settings, created_at, updated_at";

/// Business unit ids are seven-digit numbers, random so they do not reveal how many tenants exist.
fn random_business_unit_id() -> i64 {
    let n = uuid::Uuid::new_v4().as_u128() % 9_000_000;
    1_000_000 + i64::try_from(n).unwrap_or(0)
}

/// Replaces an organization's claimed domains.
async fn set_domains(tx: &mut Tx<'_>, org_id: &str, domains: &[String]) -> Result<()> {
    tx.execute(
        "DELETE FROM org_domains WHERE org_id = $1",
        &[org_id.into()],
    )
    .await?;
    for domain in domains {
        tx.execute(
            "INSERT INTO org_domains (domain, org_id) VALUES ($1, $2)",
            &[domain.into(), org_id.into()],
        )
        .await?;
    }
    Ok(())
}

/// A business unit id no organization has yet.
async fn free_business_unit_id(tx: &mut Tx<'_>) -> Result<i64> {
    loop {
        let candidate = random_business_unit_id();
        let taken = tx
            .exists(
                "SELECT business_unit_id FROM organizations WHERE business_unit_id = $1",
                &[candidate.into()],
            )
            .await?;
        if !taken {
            return Ok(candidate);
        }
    }
}

impl Store {
    /// Creates an organization with its domains and default roles, and audits it, atomically.
    pub async fn create_org(
        &self,
        new: &NewOrganization,
        audit: &AuditEvent,
    ) -> Result<Organization> {
        let id = new_id();
        let now = now_ms();
        let settings = serde_json::to_string(&new.settings)?;
        self.write(async |tx| {
            let business_unit_id = match new.business_unit_id {
                Some(given) => given,
                None => free_business_unit_id(tx).await?,
            };
            tx.execute(
                "INSERT INTO organizations (id, short_name, display_name, business_unit_id, \
                 settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                &[
                    (&id).into(),
                    (&new.short_name).into(),
                    (&new.display_name).into(),
                    business_unit_id.into(),
                    (&settings).into(),
                    now.into(),
                ],
            )
            .await?;
            set_domains(tx, &id, &new.domains).await?;
            for role in &new.default_roles {
                insert_role(tx, &id, role, now).await?;
            }
            record_on(tx, audit, &id, Some(&id)).await
        })
        .await?;
        self.get_org(&id).await
    }

    /// Finds an organization by id or short name; an id match wins.
    pub async fn find_org(&self, id_or_short_name: &str) -> Result<Option<Organization>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1 OR short_name = $1 \
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1"
        );
        self.read(async |tx| {
            let Some(mut org) = tx
                .optional::<Organization>(&sql, &[id_or_short_name.into()])
                .await?
            else {
                return Ok(None);
            };
            org.domains = tx
                .values(
                    "SELECT domain FROM org_domains WHERE org_id = $1 ORDER BY domain",
                    &[(&org.id).into()],
                )
                .await?;
            Ok(Some(org))
        })
        .await
    }

    /// The organization with this id or short name, or [`StoreError::NotFound`].
    pub async fn get_org(&self, id_or_short_name: &str) -> Result<Organization> {
        self.find_org(id_or_short_name)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The organization that claims an e-mail domain.
    pub async fn find_org_by_domain(&self, domain: &str) -> Result<Option<Organization>> {
        let org_id: Option<String> = self
            .read(async |tx| {
                tx.value(
                    "SELECT org_id FROM org_domains WHERE domain = $1",
                    &[domain.to_ascii_lowercase().into()],
                )
                .await
            })
            .await?;
        match org_id {
            Some(id) => self.find_org(&id).await,
            None => Ok(None),
        }
    }

    /// Organizations ordered by short name.
    pub async fn list_orgs(&self, limit: i64, offset: i64) -> Result<Page<Organization>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM organizations ORDER BY short_name LIMIT $1 OFFSET $2"
        );
        let page = [limit.into(), offset.into()];
        self.read(async |tx| {
            let mut items: Vec<Organization> = tx.all(&sql, &page).await?;
            let domains: Vec<(String, String)> = tx
                .all(
                    "SELECT org_id, domain FROM org_domains WHERE org_id IN \
                     (SELECT id FROM organizations ORDER BY short_name LIMIT $1 OFFSET $2) \
                     ORDER BY domain",
                    &page,
                )
                .await?;
            let (total,) = tx.one("SELECT COUNT(*) FROM organizations", &[]).await?;
            for org in &mut items {
                org.domains = domains
                    .iter()
                    .filter(|(owner, _)| *owner == org.id)
                    .map(|(_, d)| d.clone())
                    .collect();
            }
            Ok(Page { items, total })
        })
        .await
    }

    /// Applies a patch to an organization and audits it, atomically.
    pub async fn update_org(
        &self,
        id: &str,
        patch: &OrganizationPatch,
        audit: &AuditEvent,
    ) -> Result<Organization> {
        let current = self.get_org(id).await?;
        let display_name = patch.display_name.as_ref().unwrap_or(&current.display_name);
        let settings = serde_json::to_string(patch.settings.as_ref().unwrap_or(&current.settings))?;
        self.write(async |tx| {
            tx.change(
                "UPDATE organizations SET display_name = $1, settings = $2, updated_at = $3 \
                 WHERE id = $4",
                &[
                    display_name.into(),
                    (&settings).into(),
                    now_ms().into(),
                    (&current.id).into(),
                ],
            )
            .await?;
            if let Some(domains) = &patch.domains {
                set_domains(tx, &current.id, domains).await?;
            }
            record(tx, audit, Some(&current.id)).await
        })
        .await?;
        self.get_org(&current.id).await
    }

    /// Deletes an organization and everything it owns; the audit record outlives it.
    pub async fn delete_org(&self, id: &str, audit: &AuditEvent) -> Result<()> {
        self.write(async |tx| {
            tx.change("DELETE FROM organizations WHERE id = $1", &[id.into()])
                .await?;
            record(tx, audit, Some(id)).await
        })
        .await
    }
}
