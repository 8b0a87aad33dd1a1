//! The statements whose text must differ between SQLite and PostgreSQL. Everything else is shared.

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
