//! The statements whose text must differ between SQLite and PostgreSQL. Everything else is shared.

use super::{Backend, Table};

/// Lists the user tables and their columns with nullability, for the schema-agreement check.
pub(crate) const SQLITE_COLUMNS: &str = "SELECT m.name AS table_name, p.name AS column_name, \
     (p.\"notnull\" = 0 AND p.pk = 0) AS nullable \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
     ORDER BY 1, 2";

pub(crate) const POSTGRES_COLUMNS: &str = "SELECT table_name::text AS table_name, \
     column_name::text AS column_name, (is_nullable = 'YES') AS nullable \
     FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%' \
     ORDER BY 1, 2";

/// A scalar subquery over the row alias `r`: a user's groups or a group's members as a JSON
/// array of `[id, display]` in a stable order, so a resource and its memberships are one read.
pub(crate) fn links(backend: Backend, table: Table) -> &'static str {
    match (backend, table) {
        (Backend::Sqlite, Table::Users) => {
            "(SELECT json_group_array(json_array(id, display)) FROM (SELECT g.id AS id, \
             g.display_name AS display FROM group_members m JOIN org_groups g \
             ON g.id = m.group_id WHERE m.user_id = r.id ORDER BY g.display_name_key, g.id))"
        }
        (Backend::Sqlite, Table::Groups) => {
            "(SELECT json_group_array(json_array(id, display)) FROM (SELECT u.id AS id, \
             COALESCE(u.display_name, u.user_name) AS display FROM group_members m \
             JOIN users u ON u.id = m.user_id WHERE m.group_id = r.id \
             ORDER BY u.user_name_key, u.id))"
        }
        (Backend::Postgres, Table::Users) => {
            "(SELECT COALESCE(json_agg(json_build_array(g.id, g.display_name) \
             ORDER BY g.display_name_key, g.id), '[]')::text FROM group_members m \
             JOIN org_groups g ON g.id = m.group_id WHERE m.user_id = r.id)"
        }
        (Backend::Postgres, Table::Groups) => {
            "(SELECT COALESCE(json_agg(json_build_array(u.id, \
             COALESCE(u.display_name, u.user_name)) ORDER BY u.user_name_key, u.id), '[]')::text \
             FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = r.id)"
        }
    }
}
