//! Reading SCIM resources: one by id, or a filtered, sorted page with its total.

use lanyard_scim::eval::ResourceSchema;
#[cfg(feature = "testing")]
use lanyard_scim::filter::Filter;

use super::filter::Compiler;
use super::rows::{GroupRow, UserRow, GROUP_COLUMNS, USER_COLUMNS};
use super::{ScimList, ScimQuery, ScimResource};
use crate::db::dialect;
use crate::db::{Bind, Record, Table};
use crate::{Result, Store};

/// A list's statements.
struct ListSql {
    page: String,
    count: String,
    binds: Vec<Bind>,
    /// Whether the filter names one resource by a unique key (cheap to read on any thread).
    unique: bool,
}

impl From<UserRow> for ScimResource {
    fn from(row: UserRow) -> ScimResource {
        row.0
    }
}

impl From<GroupRow> for ScimResource {
    fn from(row: GroupRow) -> ScimResource {
        row.0
    }
}

/// Whether reads of `table` by index may run on the calling thread (see `Store::read_hot`).
/// Users only: a user's groups are few, but a group read brings all its members, which may be
/// many thousands and is left to the reader pool's threads.
fn hot(table: Table) -> bool {
    table == Table::Users
}

impl Store {
    /// A provisioned (human) user of this organization by id, with its groups.
    pub async fn scim_get_user(&self, org_id: &str, id: &str) -> Result<Option<ScimResource>> {
        let links = dialect::links(self.backend(), Table::Users);
        let sql = format!(
            "SELECT {USER_COLUMNS}, {links} AS links FROM users r WHERE r.org_id = $1 \
             AND r.id = $2 AND r.kind = 'human'"
        );
        self.get_one::<UserRow>(&sql, org_id, id, Table::Users)
            .await
    }

    /// A group of this organization by id, with its members.
    pub async fn scim_get_group(&self, org_id: &str, id: &str) -> Result<Option<ScimResource>> {
        let links = dialect::links(self.backend(), Table::Groups);
        let sql = format!(
            "SELECT {GROUP_COLUMNS}, {links} AS links FROM org_groups r \
             WHERE r.org_id = $1 AND r.id = $2"
        );
        self.get_one::<GroupRow>(&sql, org_id, id, Table::Groups)
            .await
    }

    /// Reads one resource by `sql` over the organization id and the resource id.
    async fn get_one<R: Record + Into<ScimResource>>(
        &self,
        sql: &str,
        org_id: &str,
        id: &str,
        table: Table,
    ) -> Result<Option<ScimResource>> {
        let binds = [org_id.into(), id.into()];
        let row: Option<R> = self
            .read_hot(hot(table), async |tx| tx.optional(sql, &binds).await)
            .await?;
        Ok(row.map(Into::into))
    }

    /// A page of this organization's users matching the query's filter.
    pub async fn scim_list_users(
        &self,
        org_id: &str,
        schema: &ResourceSchema<'_>,
        query: &ScimQuery<'_>,
    ) -> Result<ScimList> {
        self.scim_list::<UserRow>(org_id, schema, query, Table::Users)
            .await
    }

    /// A page of this organization's groups matching the query's filter.
    pub async fn scim_list_groups(
        &self,
        org_id: &str,
        schema: &ResourceSchema<'_>,
        query: &ScimQuery<'_>,
    ) -> Result<ScimList> {
        self.scim_list::<GroupRow>(org_id, schema, query, Table::Groups)
            .await
    }

    /// The statements of a list: the page (ids by filter, order and paging, then their rows)
    /// and the count, with their parameters after the organization id.
    fn list_sql(
        &self,
        schema: &ResourceSchema<'_>,
        query: &ScimQuery<'_>,
        table: Table,
    ) -> Result<ListSql> {
        let (table_name, from, columns) = match table {
            Table::Users => (
                "users",
                "users r WHERE r.org_id = $1 AND r.kind = 'human'",
                USER_COLUMNS,
            ),
            Table::Groups => (
                "org_groups",
                "org_groups r WHERE r.org_id = $1",
                GROUP_COLUMNS,
            ),
        };
        let links = if query.links {
            dialect::links(self.backend(), table)
        } else {
            "CAST(NULL AS TEXT)"
        };
        let mut compiler = Compiler::new(self.backend(), table, schema, 1, 2);
        let condition = match query.filter {
            Some(f) => compiler.condition(f)?,
            None => "(1 = 1)".to_string(),
        };
        let selective = query.filter.is_some_and(|f| compiler.selective(f));
        let unique = query.filter.is_some_and(|f| compiler.unique(f));
        let order = compiler.order_by(query.sort, selective)?;
        let binds = compiler.binds;
        let n = binds.len() + 2;
        let count = format!("SELECT COUNT(*) FROM {from} AND {condition}");
        // The page's ids are found first (the skipping of OFFSET walks an index, not rows), then
        // their rows with memberships, in one statement.
        let page = format!(
            "SELECT {columns}, {links} AS links FROM {table_name} r WHERE r.id IN \
             (SELECT r.id FROM {from} AND {condition} ORDER BY {order} LIMIT ${n} OFFSET ${}) \
             ORDER BY {order}",
            n + 1
        );
        Ok(ListSql {
            page,
            count,
            binds,
            unique,
        })
    }

    /// The database's plan for listing users with `filter` (EXPLAIN QUERY PLAN on SQLite, with
    /// no statistics; EXPLAIN on PostgreSQL after ANALYZE, with sequential scans discouraged,
    /// since its planner would rather scan a table of a few rows): lets a test prove lookups
    /// use an index.
    #[cfg(feature = "testing")]
    pub async fn explain_scim_users(
        &self,
        org_id: &str,
        schema: &ResourceSchema<'_>,
        filter: &Filter,
    ) -> Result<String> {
        let query = ScimQuery {
            filter: Some(filter),
            sort: None,
            offset: 0,
            count: 100,
            links: false,
        };
        let sql = self.list_sql(schema, &query, Table::Users)?;
        let mut params: Vec<Bind> = vec![org_id.into()];
        params.extend(sql.binds);
        params.extend([Bind::Int(100), Bind::Int(0)]);
        let lines: Vec<String> = self
            .write_keeping(
                async |tx| match tx.backend() {
                    crate::Backend::Sqlite => {
                        let plan = format!("EXPLAIN QUERY PLAN {}", sql.page);
                        let rows: Vec<(i64, i64, i64, String)> = tx.all(&plan, &params).await?;
                        Ok(rows.into_iter().map(|r| r.3).collect())
                    }
                    crate::Backend::Postgres => {
                        // With statistics, as autovacuum keeps them on a live database.
                        tx.execute("ANALYZE users", &[]).await?;
                        tx.execute("ANALYZE user_emails", &[]).await?;
                        tx.execute("SET LOCAL enable_seqscan = off", &[]).await?;
                        tx.values(&format!("EXPLAIN {}", sql.page), &params).await
                    }
                },
                // A plan reads; whatever ANALYZE and SET LOCAL did goes with the rollback.
                |_| false,
            )
            .await?;
        Ok(lines.join("\n"))
    }

    async fn scim_list<R: Record + Into<ScimResource>>(
        &self,
        org_id: &str,
        schema: &ResourceSchema<'_>,
        query: &ScimQuery<'_>,
        table: Table,
    ) -> Result<ScimList> {
        let ListSql {
            page,
            count,
            binds,
            unique,
        } = self.list_sql(schema, query, table)?;
        let limit = i64::try_from(query.count).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        // A page that is not full tells the total, unless it is empty past the start.
        let total_of = |rows: usize| {
            let seen = i64::try_from(rows).unwrap_or(i64::MAX);
            (seen < limit && (seen > 0 || offset == 0)).then_some(offset + seen)
        };
        let mut params: Vec<Bind> = vec![org_id.into()];
        params.extend(binds);
        let counted = params.len();
        params.extend([Bind::Int(limit), Bind::Int(offset)]);
        // A lookup of one user by a unique key reads one row: on SQLite, on this thread.
        // Anything that may walk many rows (other keys are not unique: a tenant can give
        // thousands of users one externalId) stays on the reader pool's threads.
        let (rows, total) = self
            .read_hot(hot(table) && unique, async |tx| {
                let rows: Vec<R> = if limit == 0 {
                    Vec::new()
                } else {
                    tx.all(&page, &params).await?
                };
                let total = match total_of(rows.len()) {
                    Some(total) => total,
                    None => tx.one::<(i64,)>(&count, &params[..counted]).await?.0,
                };
                Ok((rows, total))
            })
            .await?;
        Ok(ScimList {
            resources: rows.into_iter().map(Into::into).collect(),
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}
