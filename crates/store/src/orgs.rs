use crate::audit::insert_audit;
use crate::pool::{read, write};
use crate::roles::insert_role;
use crate::{
    new_id, now_ms, AuditEvent, NewOrganization, OrgSettings, Organization, OrganizationPatch,
    Page, Result, Store, StoreError,
};

const ORG_COLUMNS: &str =
    "id, short_name, display_name, business_unit_id, settings, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: String,
    short_name: String,
    display_name: String,
    business_unit_id: i64,
    settings: String,
    created_at: i64,
    updated_at: i64,
}

impl OrgRow {
    fn into_org(self, domains: Vec<String>) -> Result<Organization> {
        let settings: OrgSettings = serde_json::from_str(&self.settings)?;
        Ok(Organization {
            id: self.id,
            short_name: self.short_name,
            display_name: self.display_name,
            business_unit_id: self.business_unit_id,
            domains,
            settings,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Business unit ids are seven-digit numbers, random so they do not reveal how many tenants exist.
fn random_business_unit_id() -> i64 {
    let n = uuid::Uuid::new_v4().as_u128() % 9_000_000;
    1_000_000 + i64::try_from(n).unwrap_or(0)
}

/// Replaces an organization's claimed domains on `$ex`.
macro_rules! set_domains {
    ($ex:expr, $org_id:expr, $domains:expr) => {{
        sqlx::query("DELETE FROM org_domains WHERE org_id = $1")
            .bind($org_id)
            .execute(&mut *$ex)
            .await?;
        for domain in $domains {
            sqlx::query("INSERT INTO org_domains (domain, org_id) VALUES ($1, $2)")
                .bind(domain)
                .bind($org_id)
                .execute(&mut *$ex)
                .await?;
        }
    }};
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
        let mut audit = audit.clone();
        audit.target.get_or_insert_with(|| id.clone());
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let business_unit_id = match new.business_unit_id {
                Some(given) => given,
                None => loop {
                    let candidate = random_business_unit_id();
                    let taken: Option<i64> = sqlx::query_scalar(
                        "SELECT business_unit_id FROM organizations WHERE business_unit_id = $1",
                    )
                    .bind(candidate)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if taken.is_none() {
                        break candidate;
                    }
                },
            };
            sqlx::query(
                "INSERT INTO organizations (id, short_name, display_name, business_unit_id, settings, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&id)
            .bind(&new.short_name)
            .bind(&new.display_name)
            .bind(business_unit_id)
            .bind(&settings)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            set_domains!(tx, &id, &new.domains);
            for role in &new.default_roles {
                insert_role!(&mut *tx, &id, role, now)?;
            }
            insert_audit!(&mut *tx, &audit, Some(&id))?;
            tx.commit().await?;
        });
        self.get_org(&id).await
    }

    /// Finds an organization by id or short name; an id match wins.
    pub async fn find_org(&self, id_or_short_name: &str) -> Result<Option<Organization>> {
        let found = read!(self, |p| {
            let row: Option<OrgRow> = sqlx::query_as(&format!(
                "SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1 OR short_name = $1 \
                 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1"
            ))
            .bind(id_or_short_name)
            .fetch_optional(p)
            .await?;
            match row {
                None => None,
                Some(row) => {
                    let domains: Vec<String> = sqlx::query_scalar(
                        "SELECT domain FROM org_domains WHERE org_id = $1 ORDER BY domain",
                    )
                    .bind(&row.id)
                    .fetch_all(p)
                    .await?;
                    Some((row, domains))
                }
            }
        });
        found
            .map(|(row, domains)| row.into_org(domains))
            .transpose()
    }

    /// The organization with this id or short name, or [`StoreError::NotFound`].
    pub async fn get_org(&self, id_or_short_name: &str) -> Result<Organization> {
        self.find_org(id_or_short_name)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The organization that claims an e-mail domain.
    pub async fn find_org_by_domain(&self, domain: &str) -> Result<Option<Organization>> {
        let org_id: Option<String> = read!(self, |p| {
            sqlx::query_scalar("SELECT org_id FROM org_domains WHERE domain = $1")
                .bind(domain.to_ascii_lowercase())
                .fetch_optional(p)
                .await
        })?;
        match org_id {
            Some(id) => self.find_org(&id).await,
            None => Ok(None),
        }
    }

    /// Organizations ordered by short name.
    pub async fn list_orgs(&self, limit: i64, offset: i64) -> Result<Page<Organization>> {
        let (rows, domains, total): (Vec<OrgRow>, Vec<(String, String)>, i64) = read!(self, |p| {
            let rows = sqlx::query_as(&format!(
                "SELECT {ORG_COLUMNS} FROM organizations ORDER BY short_name LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?;
            let domains = sqlx::query_as(
                "SELECT org_id, domain FROM org_domains WHERE org_id IN \
                 (SELECT id FROM organizations ORDER BY short_name LIMIT $1 OFFSET $2) ORDER BY domain",
            )
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?;
            let total = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
                .fetch_one(p)
                .await?;
            (rows, domains, total)
        });
        let items = rows
            .into_iter()
            .map(|row| {
                let mine = domains
                    .iter()
                    .filter(|(org, _)| *org == row.id)
                    .map(|(_, d)| d.clone())
                    .collect();
                row.into_org(mine)
            })
            .collect::<Result<_>>()?;
        Ok(Page { items, total })
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
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let updated = sqlx::query(
                "UPDATE organizations SET display_name = $1, settings = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(display_name)
            .bind(&settings)
            .bind(now_ms())
            .bind(&current.id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            if let Some(domains) = &patch.domains {
                set_domains!(tx, &current.id, domains);
            }
            insert_audit!(&mut *tx, audit, Some(&current.id))?;
            tx.commit().await?;
        });
        self.get_org(&current.id).await
    }

    /// Deletes an organization and everything it owns; the audit record outlives it.
    pub async fn delete_org(&self, id: &str, audit: &AuditEvent) -> Result<()> {
        write!(self, |p| {
            let mut tx = p.begin().await?;
            let deleted = sqlx::query("DELETE FROM organizations WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_audit!(&mut *tx, audit, Some(id))?;
            tx.commit().await?;
        });
        Ok(())
    }
}
