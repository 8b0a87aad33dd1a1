//! SCIM filters (the AST from `lanyard_scim::filter`) compiled to a SQL condition for either
//! dialect, so listing with a filter never reads every resource into memory.
//!
//! Attributes with their own column (`id`, `userName`, `externalId`, `active`, `displayName`,
//! `name.givenName`, `name.familyName`, `meta.created`, `meta.lastModified`) compare on that
//! column; `userName`/`displayName` (of groups) compare on their lower-cased key columns and
//! `emails.value eq` / `emails[value eq …]` go through the `user_emails` table, so those are index
//! lookups. Every other attribute is read from the resource's JSON with the dialect's JSON
//! functions. Values only ever reach SQL as bound parameters; the names spliced into the SQL
//! text come from the schema definitions, never from the request.
//!
//! The semantics follow `lanyard_scim::eval::matches` (a test checks them against each other):
//! an absent attribute matches `ne` and `eq null`; `ne` on a multi-valued attribute means no
//! element is equal; strings compare case-insensitively unless the attribute is caseExact.

use crate::db::like_escape;
use lanyard_scim::eval::ResourceSchema;
use lanyard_scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use lanyard_scim::messages::SortOrder;
use lanyard_scim::schema::{Attribute, Type};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::db::{Bind, Table};
use crate::{Backend, StoreError};

/// A condition over the row alias `r`, and the parameters it numbers from `first`.
pub(crate) struct Compiler<'s> {
    backend: Backend,
    table: Table,
    schema: &'s ResourceSchema<'s>,
    /// The placeholder number of the organization id (for the index sub-queries).
    org_param: usize,
    first: usize,
    pub(crate) binds: Vec<Bind>,
}

/// Longest operand of `co`, `sw` and `ew`.
const MAX_PATTERN: usize = 256;

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::InvalidFilter(message.into())
}

/// Where an attribute's value lives.
enum Slot<'s> {
    /// A column; `folded` columns hold the lower-cased value.
    Column {
        expr: &'static str,
        def: &'s Attribute<'s>,
        folded: bool,
    },
    /// A time column in unix milliseconds.
    Millis(&'static str),
    /// A single value in the JSON document, at `keys`.
    Json {
        keys: Vec<&'s str>,
        def: &'s Attribute<'s>,
    },
    /// The elements of a multi-valued attribute at `keys`, compared by `sub` (or themselves).
    Elements {
        keys: Vec<&'s str>,
        def: &'s Attribute<'s>,
        sub: Option<&'s Attribute<'s>>,
    },
}

impl<'s> Compiler<'s> {
    pub(crate) fn new(
        backend: Backend,
        table: Table,
        schema: &'s ResourceSchema<'s>,
        org_param: usize,
        first: usize,
    ) -> Compiler<'s> {
        Compiler {
            backend,
            table,
            schema,
            org_param,
            first,
            binds: Vec::new(),
        }
    }

    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.first + self.binds.len() - 1)
    }

    /// The SQL condition for `filter`.
    pub(crate) fn condition(&mut self, filter: &Filter) -> Result<String, StoreError> {
        Ok(match filter {
            Filter::And(a, b) => format!("({} AND {})", self.condition(a)?, self.condition(b)?),
            Filter::Or(a, b) => format!("({} OR {})", self.condition(a)?, self.condition(b)?),
            Filter::Not(f) => format!("(NOT COALESCE({}, FALSE))", self.condition(f)?),
            Filter::Present(path) => self.present(path)?,
            Filter::Compare { path, op, value } => self.compare(path, *op, value)?,
            Filter::ValuePath { path, filter } => self.value_path(path, filter)?,
        })
    }

    /// The top-level definition of `path` and the JSON keys of the object holding it.
    fn locate(&self, path: &AttrPath) -> Result<(Option<&'s str>, &'s Attribute<'s>), StoreError> {
        let schema = self.schema;
        let (urn, def) = match &path.urn {
            Some(urn) if !urn.eq_ignore_ascii_case(schema.core.id) => {
                let ext = schema
                    .extensions
                    .iter()
                    .find(|s| s.id.eq_ignore_ascii_case(urn))
                    .ok_or_else(|| invalid(format!("unknown schema {urn:?} in the filter")))?;
                (Some(ext.id), ext.attribute(&path.name))
            }
            _ => (None, schema.core.attribute(&path.name)),
        };
        let def = def.ok_or_else(|| {
            invalid(format!(
                "{:?} is not an attribute of {} resources",
                path.name, schema.core.name
            ))
        })?;
        // Names go into the SQL text (as JSON path segments); organizations define some of
        // them, so they are held to a narrow alphabet here too, whatever checked them before.
        if !urn.is_none_or(safe_name) || !safe_name(def.name) {
            return Err(invalid(format!("{:?} cannot be filtered on", def.name)));
        }
        Ok((urn, def))
    }

    fn slot(&self, path: &AttrPath) -> Result<Slot<'s>, StoreError> {
        let (urn, def) = self.locate(path)?;
        let sub =
            match &path.sub {
                Some(name) => Some(def.sub(name).ok_or_else(|| {
                    invalid(format!("{} has no sub-attribute {name:?}", def.name))
                })?),
                None => None,
            };
        if urn.is_none() {
            if let Some(slot) = self.column(def, sub) {
                return Ok(slot);
            }
        }
        let mut keys: Vec<&'s str> = urn.into_iter().collect();
        keys.push(def.name);
        if def.multi_valued {
            // A complex multi-valued attribute without a sub-attribute stands for its `value`s.
            let sub = sub.or_else(|| {
                (def.kind == Type::Complex)
                    .then(|| def.sub("value"))
                    .flatten()
            });
            return Ok(Slot::Elements { keys, def, sub });
        }
        match sub {
            Some(sub) => {
                keys.push(sub.name);
                Ok(Slot::Json { keys, def: sub })
            }
            None => Ok(Slot::Json { keys, def }),
        }
    }

    /// The column that holds a core attribute, where there is one.
    fn column(&self, def: &'s Attribute<'s>, sub: Option<&'s Attribute<'s>>) -> Option<Slot<'s>> {
        let col = |expr, def, folded| Some(Slot::Column { expr, def, folded });
        match (self.table, def.name, sub.map(|s| s.name)) {
            (_, "id", None) => col("r.id", def, false),
            (_, "externalId", None) => col("r.external_id", def, false),
            (_, "meta", Some("created")) => Some(Slot::Millis("r.created_at")),
            (_, "meta", Some("lastModified")) => Some(Slot::Millis("r.updated_at")),
            (Table::Users, "userName", None) => col("r.user_name_key", def, true),
            // As shown: the column where the client set `active` or an admin deactivated the
            // user, absent otherwise (see `lanyard_scim::document::user_attributes`).
            (Table::Users, "active", None) => col(
                match self.backend {
                    Backend::Sqlite => {
                        "(CASE WHEN r.active = FALSE OR json_type(r.resource, '$.\"active\"') \
                         IS NOT NULL THEN r.active END)"
                    }
                    Backend::Postgres => {
                        "(CASE WHEN r.active = FALSE OR (r.resource::jsonb -> 'active') \
                         IS NOT NULL THEN r.active END)"
                    }
                },
                def,
                false,
            ),
            (Table::Users, "displayName", None) => col("r.display_name", def, false),
            (Table::Users, "name", Some("givenName")) => col("r.given_name", sub?, false),
            (Table::Users, "name", Some("familyName")) => col("r.family_name", sub?, false),
            (Table::Groups, "displayName", None) => col("r.display_name_key", def, true),
            _ => None,
        }
    }

    fn present(&mut self, path: &AttrPath) -> Result<String, StoreError> {
        if let Some(sql) = self.membership(path, None)? {
            return Ok(sql);
        }
        Ok(match self.slot(path)? {
            Slot::Column { expr, def, .. } => present_scalar(expr, def),
            Slot::Millis(expr) => format!("({expr} IS NOT NULL)"),
            Slot::Json { keys, def } => present_scalar(&self.json_scalar(&keys, def), def),
            Slot::Elements { keys, def, sub } => {
                let cond = match sub {
                    Some(sub) => present_scalar(&self.element_value(Some(sub)), sub),
                    None => present_scalar(&self.element_value(None), def),
                };
                self.exists_element(&keys, &cond)
            }
        })
    }

    fn compare(
        &mut self,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<String, StoreError> {
        if op == CompareOp::Ne {
            if *value == CompValue::Null {
                return Ok("(1 = 1)".into());
            }
            let eq = self.compare(path, CompareOp::Eq, value)?;
            return Ok(format!("(NOT COALESCE({eq}, FALSE))"));
        }
        if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
            if let CompValue::String(s) = value {
                // Substring matching costs the pattern's length per stored character.
                if s.chars().count() > MAX_PATTERN {
                    return Err(invalid(format!(
                        "co, sw and ew take at most {MAX_PATTERN} characters"
                    )));
                }
            }
        }
        if let Some(sql) = self.membership(path, Some((op, value)))? {
            return Ok(sql);
        }
        if self.table == Table::Users && op == CompareOp::Eq && is_email_value(path) {
            if let CompValue::String(s) = value {
                return Ok(self.email_lookup(s));
            }
        }
        match self.slot(path)? {
            Slot::Column { expr, def, folded } => {
                Ok(self.scalar_compare(expr, def, folded, op, value))
            }
            Slot::Millis(expr) => self.millis_compare(expr, op, value),
            Slot::Json { keys, def } => {
                let expr = self.json_scalar(&keys, def);
                Ok(self.scalar_compare(&expr, def, false, op, value))
            }
            Slot::Elements { keys, def, sub } => {
                let def = sub.unwrap_or(def);
                let expr = self.element_value(sub);
                let cond = self.scalar_compare(&expr, def, false, op, value);
                Ok(self.exists_element(&keys, &cond))
            }
        }
    }

    fn value_path(&mut self, path: &AttrPath, filter: &Filter) -> Result<String, StoreError> {
        let (urn, def) = self.locate(path)?;
        if !def.multi_valued || def.kind != Type::Complex {
            return Err(invalid(format!(
                "{}[…] needs a multi-valued complex attribute",
                def.name
            )));
        }
        if self.table == Table::Users && urn.is_none() && def.name == "emails" {
            if let Filter::Compare {
                path: inner,
                op: CompareOp::Eq,
                value: CompValue::String(s),
            } = filter
            {
                if inner.sub.is_none() && inner.name.eq_ignore_ascii_case("value") {
                    return Ok(self.email_lookup(s));
                }
            }
        }
        if matches!(
            (self.table, def.name),
            (Table::Users, "groups") | (Table::Groups, "members")
        ) {
            return Err(invalid(format!(
                "{} can be filtered by {}.value eq \"<id>\" or {} pr",
                def.name, def.name, def.name
            )));
        }
        let mut keys: Vec<&'s str> = urn.into_iter().collect();
        keys.push(def.name);
        let cond = self.element_condition(filter, def)?;
        Ok(self.exists_element(&keys, &cond))
    }

    /// A value-path filter over one element (`j`), whose paths name sub-attributes.
    fn element_condition(
        &mut self,
        filter: &Filter,
        def: &'s Attribute<'s>,
    ) -> Result<String, StoreError> {
        let sub_of = |path: &AttrPath| {
            def.sub(&path.name).ok_or_else(|| {
                invalid(format!("{} has no sub-attribute {:?}", def.name, path.name))
            })
        };
        Ok(match filter {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.element_condition(a, def)?,
                self.element_condition(b, def)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.element_condition(a, def)?,
                self.element_condition(b, def)?
            ),
            Filter::Not(f) => format!("(NOT COALESCE({}, FALSE))", self.element_condition(f, def)?),
            Filter::Present(path) => {
                let sub = sub_of(path)?;
                present_scalar(&self.element_value(Some(sub)), sub)
            }
            Filter::Compare { path, op, value } => {
                let sub = sub_of(path)?;
                if *op == CompareOp::Ne {
                    if *value == CompValue::Null {
                        return Ok("(1 = 1)".into());
                    }
                    let expr = self.element_value(Some(sub));
                    let eq = self.scalar_compare(&expr, sub, false, CompareOp::Eq, value);
                    format!("(NOT COALESCE({eq}, FALSE))")
                } else {
                    let expr = self.element_value(Some(sub));
                    self.scalar_compare(&expr, sub, false, *op, value)
                }
            }
            Filter::ValuePath { .. } => return Err(invalid("value paths do not nest")),
        })
    }

    /// `groups.value eq "<id>"` on users and `members.value eq "<id>"` on groups, through the
    /// membership table; `groups pr` / `members pr` likewise.
    fn membership(
        &mut self,
        path: &AttrPath,
        compare: Option<(CompareOp, &CompValue)>,
    ) -> Result<Option<String>, StoreError> {
        if path.urn.is_some() {
            return Ok(None);
        }
        let (ours, theirs, name) = match self.table {
            Table::Users => ("user_id", "group_id", "groups"),
            Table::Groups => ("group_id", "user_id", "members"),
        };
        if !path.name.eq_ignore_ascii_case(name) {
            return Ok(None);
        }
        let by_value = path
            .sub
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("value"));
        match compare {
            None if path.sub.is_none() => Ok(Some(format!(
                "EXISTS (SELECT 1 FROM group_members m WHERE m.{ours} = r.id)"
            ))),
            Some((CompareOp::Eq, CompValue::String(id))) if by_value => {
                let p = self.param(Bind::Text(id.clone()));
                Ok(Some(format!(
                    "EXISTS (SELECT 1 FROM group_members m WHERE m.{ours} = r.id AND m.{theirs} = {p})"
                )))
            }
            _ => Err(invalid(format!(
                "{name} can be filtered by {name}.value eq \"<id>\" or {name} pr"
            ))),
        }
    }

    fn email_lookup(&mut self, address: &str) -> String {
        let p = self.param(Bind::Text(address.to_lowercase()));
        format!(
            "r.id IN (SELECT e.user_id FROM user_emails e WHERE e.org_id = ${} AND e.value_key = {p})",
            self.org_param
        )
    }

    /// The JSON value at `keys` of the row's document, as SQL text (or number for numbers).
    fn json_scalar(&self, keys: &[&str], def: &Attribute) -> String {
        match self.backend {
            Backend::Sqlite => format!("json_extract(r.resource, '{}')", sqlite_path(keys)),
            Backend::Postgres => {
                let text = format!("(r.resource::jsonb #>> '{}')", pg_path(keys));
                pg_typed(text, def)
            }
        }
    }

    /// The value of the current element `j` (or of its sub-attribute).
    fn element_value(&self, sub: Option<&Attribute>) -> String {
        match (self.backend, sub) {
            (Backend::Sqlite, Some(sub)) => {
                format!("json_extract(j.value, '{}')", sqlite_path(&[sub.name]))
            }
            (Backend::Sqlite, None) => "j.value".to_string(),
            (Backend::Postgres, Some(sub)) => {
                pg_typed(format!("(j.value #>> '{}')", pg_path(&[sub.name])), sub)
            }
            (Backend::Postgres, None) => "(j.value #>> '{}')".to_string(),
        }
    }

    fn exists_element(&self, keys: &[&str], cond: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!(
                "EXISTS (SELECT 1 FROM json_each(r.resource, '{}') j WHERE {cond})",
                sqlite_path(keys)
            ),
            Backend::Postgres => {
                let at = format!("(r.resource::jsonb #> '{}')", pg_path(keys));
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({at}) = 'array' \
                     THEN {at} ELSE '[]'::jsonb END) j WHERE {cond})"
                )
            }
        }
    }

    fn scalar_compare(
        &mut self,
        expr: &str,
        def: &Attribute,
        folded: bool,
        op: CompareOp,
        value: &CompValue,
    ) -> String {
        let never = "(1 = 0)".to_string();
        match (def.kind, value) {
            (_, CompValue::Null) => match op {
                CompareOp::Eq => format!("({expr} IS NULL)"),
                _ => never,
            },
            (Type::Boolean, CompValue::Bool(b)) if op == CompareOp::Eq => {
                let p = self.param(Bind::Bool(*b));
                format!("({expr} = {p})")
            }
            (Type::Integer | Type::Decimal, CompValue::Number(n))
                if op != CompareOp::Co && op != CompareOp::Sw && op != CompareOp::Ew =>
            {
                let bind = match n.as_i64() {
                    Some(i) => Bind::Int(i),
                    None => Bind::Float(n.as_f64().unwrap_or(f64::NAN)),
                };
                let p = self.param(bind);
                format!("({expr} {} {p})", sql_op(op))
            }
            (
                Type::String | Type::Reference | Type::Binary | Type::DateTime,
                CompValue::String(s),
            ) => self.string_compare(expr, def, folded, op, s),
            _ => never,
        }
    }

    fn string_compare(
        &mut self,
        expr: &str,
        def: &Attribute,
        folded: bool,
        op: CompareOp,
        s: &str,
    ) -> String {
        if def.kind == Type::DateTime {
            // Stored date-times are checked RFC 3339 on write; compare them as instants, since
            // clients write different precisions and offsets.
            if OffsetDateTime::parse(s, &Rfc3339).is_err() {
                return "(1 = 0)".into();
            }
            let p = self.param(Bind::Text(s.to_string()));
            return match (op, self.backend) {
                (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => "(1 = 0)".into(),
                (_, Backend::Sqlite) => {
                    format!("(julianday({expr}) {} julianday({p}))", sql_op(op))
                }
                (_, Backend::Postgres) => {
                    format!("(({expr})::timestamptz {} ({p})::timestamptz)", sql_op(op))
                }
            };
        }
        // Folded columns already hold lower-cased text; other case-insensitive values are
        // lower-cased on both sides.
        let fold = !def.case_exact && !folded;
        let value = if folded {
            s.to_lowercase()
        } else {
            s.to_string()
        };
        let lhs = if fold {
            format!("lower({expr})")
        } else {
            expr.to_string()
        };
        let wrap = |p: String| if fold { format!("lower({p})") } else { p };
        match op {
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                // SQLite's LIKE ignores ASCII case: a case-exact match there needs GLOB.
                let glob = self.backend == Backend::Sqlite && def.case_exact;
                let (esc, any) = if glob {
                    (glob_escape(&value), "*")
                } else {
                    (like_escape(&value), "%")
                };
                let pattern = match op {
                    CompareOp::Co => format!("{any}{esc}{any}"),
                    CompareOp::Sw => format!("{esc}{any}"),
                    _ => format!("{any}{esc}"),
                };
                let p = self.param(Bind::Text(pattern));
                if glob {
                    format!("({lhs} GLOB {p})")
                } else {
                    format!("({lhs} LIKE {} ESCAPE '\\')", wrap(p))
                }
            }
            _ => {
                let p = self.param(Bind::Text(value));
                format!("({lhs} {} {})", sql_op(op), wrap(p))
            }
        }
    }

    fn millis_compare(
        &mut self,
        expr: &str,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<String, StoreError> {
        let CompValue::String(s) = value else {
            return Ok("(1 = 0)".into());
        };
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| invalid(format!("{s:?} is not an RFC 3339 date-time")))?;
        let ms = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        Ok(match op {
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "(1 = 0)".into(),
            _ => {
                let p = self.param(Bind::Int(ms));
                format!("({expr} {} {p})", sql_op(op))
            }
        })
    }

    /// An `ORDER BY` expression list for `sortBy`, nulls last, ties by creation.
    ///
    /// With a `selective` filter (see [`Compiler::selective`]) the default order is written so
    /// that no index can serve it (`+ 0`): otherwise a planner without statistics may walk the
    /// creation-order index to skip a sort and test every user of the organization against
    /// the filter, instead of looking the one match up.
    pub(crate) fn order_by(
        &mut self,
        sort: Option<(&AttrPath, SortOrder)>,
        selective: bool,
    ) -> Result<String, StoreError> {
        let Some((path, order)) = sort else {
            return Ok(if selective {
                "r.created_at + 0, r.id".into()
            } else {
                "r.created_at, r.id".into()
            });
        };
        let dir = match order {
            SortOrder::Ascending => "ASC",
            SortOrder::Descending => "DESC",
        };
        let expr = match self.slot(path)? {
            Slot::Column { expr, def, folded } => sort_key(expr.to_string(), def, folded),
            Slot::Millis(expr) => expr.to_string(),
            Slot::Json { keys, def } => sort_key(self.json_scalar(&keys, def), def, false),
            Slot::Elements { mut keys, def, sub } => {
                // Sorted by the first element's value (RFC 7644 §3.4.2.3 suggests the primary).
                let sub = sub.unwrap_or(def);
                let mut at: Vec<String> = keys.drain(..).map(str::to_string).collect();
                at.push("0".into());
                at.push(sub.name.to_string());
                let refs: Vec<&str> = at.iter().map(String::as_str).collect();
                let text = match self.backend {
                    Backend::Sqlite => {
                        format!("json_extract(r.resource, '{}')", sqlite_path_indexed(&refs))
                    }
                    Backend::Postgres => format!("(r.resource::jsonb #>> '{}')", pg_path(&refs)),
                };
                sort_key(text, sub, false)
            }
        };
        Ok(format!(
            "({expr}) IS NULL, {expr} {dir}, r.created_at, r.id"
        ))
    }
}

impl Compiler<'_> {
    /// Whether `filter` can match at most one resource: it requires equality on `id` or on a
    /// user's `userName` (unique per organization, case-insensitively).
    pub(crate) fn unique(&self, filter: &Filter) -> bool {
        match filter {
            Filter::And(a, b) => self.unique(a) || self.unique(b),
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(_),
            } => {
                path.urn.is_none()
                    && path.sub.is_none()
                    && (path.name.eq_ignore_ascii_case("id")
                        || (self.table == Table::Users
                            && path.name.eq_ignore_ascii_case("userName")))
            }
            _ => false,
        }
    }

    /// Whether `filter` requires an equality on an indexed attribute (at its top level, or in
    /// one side of a top-level `and`): its matches are then found through that index and are
    /// few.
    pub(crate) fn selective(&self, filter: &Filter) -> bool {
        let indexed = |path: &AttrPath| {
            if path.urn.is_some() {
                return false;
            }
            let name = path.name.to_ascii_lowercase();
            let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
            matches!(
                (self.table, name.as_str(), sub.as_deref()),
                (_, "id" | "externalid", None)
                    | (Table::Users, "username", None)
                    | (Table::Users, "emails", Some("value"))
                    | (Table::Groups, "displayname", None)
                    | (Table::Groups, "members", Some("value"))
            )
        };
        match filter {
            Filter::And(a, b) => self.selective(a) || self.selective(b),
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(_),
            } => indexed(path),
            Filter::ValuePath { path, filter } => {
                path.urn.is_none()
                    && self.table == Table::Users
                    && path.name.eq_ignore_ascii_case("emails")
                    && matches!(&**filter, Filter::Compare { path: inner, op: CompareOp::Eq, value: CompValue::String(_) }
                        if inner.name.eq_ignore_ascii_case("value") && inner.sub.is_none())
            }
            _ => false,
        }
    }
}

fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'$'))
}

fn is_email_value(path: &AttrPath) -> bool {
    path.urn.is_none()
        && path.name.eq_ignore_ascii_case("emails")
        && path
            .sub
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("value"))
}

fn present_scalar(expr: &str, def: &Attribute) -> String {
    match def.kind {
        Type::String | Type::Reference | Type::Binary | Type::DateTime => {
            format!("({expr} IS NOT NULL AND {expr} <> '')")
        }
        _ => format!("({expr} IS NOT NULL)"),
    }
}

fn sort_key(expr: String, def: &Attribute, folded: bool) -> String {
    let text = matches!(def.kind, Type::String | Type::Reference);
    if text && !def.case_exact && !folded {
        format!("lower({expr})")
    } else {
        expr
    }
}

/// PostgreSQL's `#>>` yields text: numbers and booleans are cast back so they compare as such.
fn pg_typed(text: String, def: &Attribute) -> String {
    match def.kind {
        Type::Integer | Type::Decimal => format!("({text})::numeric"),
        Type::Boolean => format!("({text})::boolean"),
        _ => text,
    }
}

fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "LIKE",
    }
}

/// `$."a"."b"`: schema names only (never request text), quoted for the dots and colons of URNs.
fn sqlite_path(keys: &[&str]) -> String {
    let mut out = String::from("$");
    for k in keys {
        out.push_str(&format!(".\"{k}\""));
    }
    out
}

/// As [`sqlite_path`], with numeric keys as array indexes.
fn sqlite_path_indexed(keys: &[&str]) -> String {
    let mut out = String::from("$");
    for k in keys {
        if k.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{k}]"));
        } else {
            out.push_str(&format!(".\"{k}\""));
        }
    }
    out
}

/// `{a,b}`: a PostgreSQL text-array path (schema names hold no commas, braces or quotes).
fn pg_path(keys: &[&str]) -> String {
    format!("{{{}}}", keys.join(","))
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' | '?' | '[' | ']' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}
