//! The PATCH engine (RFC 7644 §3.5.2): add, remove and replace, with and without paths, value
//! path filters and multi-valued merge rules, applied to a resource held as JSON.
//!
//! Real clients are accepted as they are, on by default: Entra ID capitalises operations
//! (`"Replace"`), sends booleans as strings (`"False"`), dotted keys in a path-less replace
//! (`{"name.givenName": "x"}`), expects `emails[type eq "work"].value` to create the element
//! when absent, and removes group members by a value list; Okta sends
//! `{"op": "replace", "value": {"active": false}}`.

use serde_json::{Map, Value};

use crate::eval::{element_matches, field, ResourceSchema};
use crate::filter::{parse_path, AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::schema::{Attribute, Mutability, Schema, Type};
use crate::{Error, ScimType};

/// The PatchOp message schema.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations in one request.
pub const MAX_OPERATIONS: usize = 1000;

/// One operation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

fn error(kind: ScimType, message: impl Into<String>) -> Error {
    Error::new(kind, message)
}

/// Reads a PATCH request body.
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, Error> {
    let schemas = field(body, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_OP))) {
        return Err(error(
            ScimType::InvalidSyntax,
            format!("a PATCH body must list the schema {PATCH_OP}"),
        ));
    }
    let ops = field(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            error(
                ScimType::InvalidSyntax,
                "a PATCH body needs an Operations array",
            )
        })?;
    if ops.is_empty() {
        return Err(error(
            ScimType::InvalidSyntax,
            "the Operations array is empty",
        ));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(error(
            ScimType::TooMany,
            format!("at most {MAX_OPERATIONS} operations per request"),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let kind = match field(op, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => Op::Add,
                Some("remove") => Op::Remove,
                Some("replace") => Op::Replace,
                other => {
                    return Err(error(
                        ScimType::InvalidSyntax,
                        format!("operation {i}: op must be add, remove or replace, not {other:?}"),
                    ))
                }
            };
            let path = match field(op, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(parse_path(p)?),
                Some(_) => {
                    return Err(error(
                        ScimType::InvalidPath,
                        format!("operation {i}: path must be a string"),
                    ))
                }
            };
            let value = field(op, "value").cloned();
            if kind != Op::Remove && value.is_none() {
                return Err(error(
                    ScimType::InvalidValue,
                    format!("operation {i}: {kind:?} needs a value"),
                ));
            }
            if kind == Op::Remove && path.is_none() {
                return Err(error(
                    ScimType::NoTarget,
                    format!("operation {i}: remove needs a path"),
                ));
            }
            Ok(Operation {
                op: kind,
                path,
                value,
            })
        })
        .collect()
}

/// Applies `operations` in order. On error nothing is applied (the caller's resource is
/// untouched): the work is done on a copy.
pub fn apply(
    resource: &mut Value,
    operations: &[Operation],
    schema: &ResourceSchema<'_>,
) -> Result<(), Error> {
    let mut work = resource.clone();
    for op in operations {
        apply_one(&mut work, op, schema)?;
    }
    *resource = work;
    Ok(())
}

fn apply_one(
    resource: &mut Value,
    op: &Operation,
    schema: &ResourceSchema<'_>,
) -> Result<(), Error> {
    // A path that is an extension's URN (`urn:…:enterprise:2.0:User`) names the extension's
    // whole object.
    let whole_extension = op.path.as_ref().and_then(|p| {
        let urn = p.attr.urn.as_deref()?;
        if p.filter.is_some() || p.sub.is_some() || p.attr.sub.is_some() {
            return None;
        }
        let full = format!("{urn}:{}", p.attr.name);
        schema
            .extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(&full))
    });
    if let Some(ext) = whole_extension {
        if op.op == Op::Remove {
            if let Some(root) = resource.as_object_mut() {
                take(root, ext.id);
                if let Some(Value::Array(schemas)) = root.get_mut("schemas") {
                    schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(ext.id)));
                }
            }
            return Ok(());
        }
        let mut items = Map::new();
        items.insert(ext.id.to_string(), op.value.clone().unwrap_or(Value::Null));
        let pathless = Operation {
            op: op.op,
            path: None,
            value: Some(Value::Object(items)),
        };
        return apply_one(resource, &pathless, schema);
    }
    match &op.path {
        Some(path) => apply_path(resource, op.op, path, op.value.as_ref(), schema),
        None => {
            // No path: the value is an object of attribute → value (RFC 7644 §3.5.2.1, .3).
            let Some(Value::Object(items)) = &op.value else {
                return Err(error(
                    ScimType::InvalidValue,
                    "without a path, the value must be an object of attributes",
                ));
            };
            for (key, value) in items {
                // Clients echo server-owned members here (Okta sends `id` when it renames a
                // group); as in a PUT body, they are ignored. An explicit path to them is
                // still a mutability error.
                if ["schemas", "id", "meta"]
                    .iter()
                    .any(|k| key.eq_ignore_ascii_case(k))
                {
                    continue;
                }
                // An extension URN holds an object of that extension's attributes.
                if let Some(ext) = schema
                    .extensions
                    .iter()
                    .find(|s| s.id.eq_ignore_ascii_case(key))
                {
                    let Value::Object(inner) = value else {
                        return Err(error(
                            ScimType::InvalidValue,
                            format!("{key} must be an object"),
                        ));
                    };
                    for (name, v) in inner {
                        if name.eq_ignore_ascii_case("schemas") {
                            continue;
                        }
                        let path = PatchPath {
                            attr: qualified(ext, name)?,
                            filter: None,
                            sub: None,
                        };
                        apply_path(resource, op.op, &path, Some(v), schema)?;
                    }
                    continue;
                }
                let path = parse_path(key).map_err(|e| error(ScimType::InvalidPath, e.message))?;
                apply_path(resource, op.op, &path, Some(value), schema)?;
            }
            Ok(())
        }
    }
}

fn qualified(ext: &Schema, name: &str) -> Result<AttrPath, Error> {
    let parsed = parse_path(name).map_err(|e| error(ScimType::InvalidPath, e.message))?;
    Ok(AttrPath {
        urn: Some(ext.id.to_string()),
        ..parsed.attr
    })
}

/// The object an attribute lives in (the resource, or its extension object, created on
/// demand) and the attribute's definition.
fn target<'r, 's>(
    resource: &'r mut Value,
    path: &AttrPath,
    schema: &ResourceSchema<'s>,
) -> Result<(&'r mut Map<String, Value>, &'s Attribute<'s>), Error> {
    let unknown = || {
        error(
            ScimType::InvalidPath,
            format!("unknown attribute {:?}", path.name),
        )
    };
    let ext = match &path.urn {
        Some(urn) if !urn.eq_ignore_ascii_case(schema.core.id) => Some(
            *schema
                .extensions
                .iter()
                .find(|s| s.id.eq_ignore_ascii_case(urn))
                .ok_or_else(|| error(ScimType::InvalidPath, format!("unknown schema {urn:?}")))?,
        ),
        _ => None,
    };
    let def = match ext {
        Some(s) => s.attribute(&path.name),
        None => schema.core.attribute(&path.name),
    }
    .ok_or_else(unknown)?;
    let root = resource
        .as_object_mut()
        .ok_or_else(|| error(ScimType::InvalidValue, "the resource is not an object"))?;
    let holder = match ext {
        None => root,
        Some(s) => {
            add_schema(root, s.id);
            let key = canonical_key(root, s.id);
            let slot = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot.as_object_mut().expect("just made an object")
        }
    };
    Ok((holder, def))
}

fn add_schema(root: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(schemas)) = root.get_mut("schemas") {
        if !schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        {
            schemas.push(Value::String(urn.to_string()));
        }
    }
}

/// The existing key spelling for `name` (attribute names are case-insensitive), or `name`.
fn canonical_key(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// Takes `name` out of `object` whatever its case, so it can be re-inserted canonically.
fn take(object: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()?;
    object.remove(&key)
}

fn check_writable(def: &Attribute, op: Op) -> Result<(), Error> {
    if def.mutability == Mutability::ReadOnly {
        return Err(error(
            ScimType::Mutability,
            format!("{} is read-only", def.name),
        ));
    }
    if op == Op::Remove && def.required {
        return Err(error(
            ScimType::InvalidValue,
            format!("{} is required and cannot be removed", def.name),
        ));
    }
    Ok(())
}

/// Converts `value` to the attribute's type: booleans sent as strings (Entra's `"False"`) are
/// accepted; other mismatches are refused.
pub(crate) fn coerce(def: &Attribute, value: &Value) -> Result<Value, Error> {
    let bad = || {
        error(
            ScimType::InvalidValue,
            format!("{} must be of type {:?}, got {value}", def.name, def.kind),
        )
    };
    Ok(match (def.kind, value) {
        (_, Value::Null) => Value::Null,
        (Type::Boolean, Value::Bool(_)) => value.clone(),
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        (Type::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => value.clone(),
        (Type::Decimal, Value::Number(_)) => value.clone(),
        (Type::DateTime, Value::String(s)) => {
            // Filters compare date-times as instants; only RFC 3339 texts can be compared.
            if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_err()
            {
                return Err(error(
                    ScimType::InvalidValue,
                    format!("{} must be an RFC 3339 date-time, got {s:?}", def.name),
                ));
            }
            value.clone()
        }
        (Type::String | Type::Reference | Type::Binary, Value::String(_)) => value.clone(),
        // Entra ID sends a manager as its id alone: `"value": "<id>"` for `manager`.
        (Type::Complex, Value::String(_)) if !def.multi_valued && def.sub("value").is_some() => {
            let mut out = Map::new();
            out.insert("value".into(), value.clone());
            Value::Object(out)
        }
        (Type::Complex, Value::Object(map)) => {
            let mut out = Map::new();
            for (k, v) in map {
                let sub = def.sub(k).ok_or_else(|| {
                    error(
                        ScimType::InvalidValue,
                        format!("{} has no sub-attribute {k:?}", def.name),
                    )
                })?;
                out.insert(sub.name.to_string(), coerce(sub, v)?);
            }
            Value::Object(out)
        }
        _ => return Err(bad()),
    })
}

/// The value(s) for a multi-valued attribute: an array, or one element.
pub(crate) fn elements(def: &Attribute, value: &Value) -> Result<Vec<Value>, Error> {
    match value {
        Value::Array(items) => items.iter().map(|v| coerce(def, v)).collect(),
        other => Ok(vec![coerce(def, other)?]),
    }
}

/// Only one element may be primary: a new primary one demotes the others.
pub(crate) fn settle_primary(items: &mut [Value]) {
    let last_primary = items
        .iter()
        .rposition(|i| field(i, "primary") == Some(&Value::Bool(true)));
    if let Some(keep) = last_primary {
        for (i, item) in items.iter_mut().enumerate() {
            if i != keep {
                if let Some(obj) = item.as_object_mut() {
                    if obj.get("primary") == Some(&Value::Bool(true)) {
                        obj.insert("primary".into(), Value::Bool(false));
                    }
                }
            }
        }
    }
}

fn apply_path(
    resource: &mut Value,
    op: Op,
    path: &PatchPath,
    value: Option<&Value>,
    schema: &ResourceSchema<'_>,
) -> Result<(), Error> {
    let (holder, def) = target(resource, &path.attr, schema)?;
    check_writable(def, op)?;
    let key = canonical_key(holder, def.name);
    match (&path.filter, def.multi_valued) {
        (Some(filter), true) => {
            return apply_filtered(holder, &key, def, op, filter, path.sub.as_deref(), value)
        }
        (Some(_), false) => {
            return Err(error(
                ScimType::InvalidPath,
                format!("{} is not multi-valued; it cannot be filtered", def.name),
            ))
        }
        (None, _) => {}
    }
    // A sub-attribute of a complex attribute: `name.givenName`.
    if let Some(sub_name) = &path.attr.sub {
        let sub = def.sub(sub_name).ok_or_else(|| {
            error(
                ScimType::InvalidPath,
                format!("{} has no sub-attribute {sub_name:?}", def.name),
            )
        })?;
        check_writable(sub, op)?;
        if def.multi_valued {
            // `emails.value` without a filter addresses every element's sub-attribute.
            let items = holder.get_mut(&key).and_then(Value::as_array_mut);
            for item in items.into_iter().flatten() {
                set_sub(item, sub, op, value)?;
            }
            return Ok(());
        }
        let slot = holder
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        return set_sub(slot, sub, op, value);
    }
    match op {
        Op::Remove => {
            match (value, def.multi_valued) {
                // Entra removes group members by listing them (one member may come alone).
                (Some(listed @ (Value::Array(_) | Value::Object(_))), true) => {
                    let doomed = ElementSet::new(def, elements(def, listed)?);
                    if let Some(Value::Array(items)) = holder.get_mut(&key) {
                        items.retain(|item| !doomed.contains(item));
                    }
                }
                _ => {
                    take(holder, &key);
                }
            }
            Ok(())
        }
        Op::Replace | Op::Add => {
            let value = value.ok_or_else(|| error(ScimType::InvalidValue, "a value is needed"))?;
            if def.multi_valued {
                let new = elements(def, value)?;
                let mut items = match (op, take(holder, &key)) {
                    (Op::Add, Some(Value::Array(existing))) => existing,
                    _ => Vec::new(),
                };
                let mut seen = ElementSet::new(def, Vec::new());
                for item in &items {
                    seen.insert(item.clone());
                }
                for element in new {
                    if !seen.contains(&element) {
                        seen.insert(element.clone());
                        items.push(element);
                    }
                }
                settle_primary(&mut items);
                holder.insert(def.name.to_string(), Value::Array(items));
            } else if def.kind == Type::Complex && op == Op::Add {
                // Adding to a complex attribute merges its sub-attributes.
                let incoming = coerce(def, value)?;
                let slot = take(holder, &key)
                    .filter(Value::is_object)
                    .unwrap_or_else(|| Value::Object(Map::new()));
                let mut merged = slot.as_object().cloned().unwrap_or_default();
                if let Value::Object(m) = incoming {
                    merged.extend(m);
                }
                holder.insert(def.name.to_string(), Value::Object(merged));
            } else {
                take(holder, &key);
                let coerced = coerce(def, value)?;
                if !coerced.is_null() {
                    holder.insert(def.name.to_string(), coerced);
                }
            }
            Ok(())
        }
    }
}

fn set_sub(slot: &mut Value, sub: &Attribute, op: Op, value: Option<&Value>) -> Result<(), Error> {
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let obj = slot.as_object_mut().expect("just made an object");
    take(obj, sub.name);
    if op != Op::Remove {
        let value = value.ok_or_else(|| error(ScimType::InvalidValue, "a value is needed"))?;
        let coerced = coerce(sub, value)?;
        if !coerced.is_null() {
            obj.insert(sub.name.to_string(), coerced);
        }
    }
    Ok(())
}

/// Elements of a multi-valued attribute, for "is this one already there": two are the same when
/// their `value`s are (compared as the attribute's case-exactness says), or, lacking values,
/// when they are equal. Hashed by value, so merging n elements into m costs n + m, not n·m.
struct ElementSet {
    exact: bool,
    complex: bool,
    by_value: std::collections::HashSet<String>,
    /// Elements without a string `value`, compared whole.
    others: Vec<Value>,
}

impl ElementSet {
    fn new(def: &Attribute, items: Vec<Value>) -> ElementSet {
        let mut set = ElementSet {
            exact: def.sub("value").map_or(def.case_exact, |v| v.case_exact),
            complex: def.kind == Type::Complex,
            by_value: std::collections::HashSet::new(),
            others: Vec::new(),
        };
        for item in items {
            set.insert(item);
        }
        set
    }

    fn key(&self, element: &Value) -> Option<String> {
        if !self.complex {
            return element.as_str().map(str::to_string);
        }
        match field(element, "value") {
            Some(Value::String(v)) if self.exact => Some(v.clone()),
            Some(Value::String(v)) => Some(v.to_ascii_lowercase()),
            Some(other) if !other.is_null() => Some(other.to_string()),
            _ => None,
        }
    }

    fn insert(&mut self, element: Value) {
        match self.key(&element) {
            Some(k) => {
                self.by_value.insert(k);
            }
            None => self.others.push(element),
        }
    }

    fn contains(&self, element: &Value) -> bool {
        match self.key(element) {
            Some(k) => self.by_value.contains(&k),
            None => self.others.contains(element),
        }
    }
}

/// Operations on `attr[filter]` and `attr[filter].sub`.
fn apply_filtered(
    holder: &mut Map<String, Value>,
    key: &str,
    def: &Attribute,
    op: Op,
    filter: &Filter,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<(), Error> {
    let sub_def = match sub {
        Some(name) => {
            let s = def.sub(name).ok_or_else(|| {
                error(
                    ScimType::InvalidPath,
                    format!("{} has no sub-attribute {name:?}", def.name),
                )
            })?;
            check_writable(s, op)?;
            Some(s)
        }
        None => None,
    };
    // A differently-cased key (`Emails`) is re-keyed under the canonical name first.
    if let Some(existing) = take(holder, key) {
        holder.insert(def.name.to_string(), existing);
    }
    let items = holder
        .entry(def.name.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = items else {
        return Err(error(
            ScimType::InvalidValue,
            format!("{} is not an array", def.name),
        ));
    };
    let matching: Vec<usize> = (0..items.len())
        .filter(|i| element_matches(filter, &items[*i], def))
        .collect();
    match op {
        Op::Remove => {
            if matching.is_empty() {
                return Err(error(
                    ScimType::NoTarget,
                    format!("no {} element matches the path's filter", def.name),
                ));
            }
            match sub_def {
                Some(s) => {
                    for i in &matching {
                        if let Some(obj) = items[*i].as_object_mut() {
                            take(obj, s.name);
                        }
                    }
                }
                None => {
                    let mut doomed = vec![false; items.len()];
                    for i in &matching {
                        doomed[*i] = true;
                    }
                    let mut index = 0;
                    items.retain(|_| {
                        let keep = !doomed[index];
                        index += 1;
                        keep
                    });
                }
            }
        }
        Op::Add | Op::Replace => {
            let value = value.ok_or_else(|| error(ScimType::InvalidValue, "a value is needed"))?;
            if matching.is_empty() {
                // Entra: `emails[type eq "work"].value` creates the element when absent.
                let mut element = element_from_filter(filter, def).ok_or_else(|| {
                    error(
                        ScimType::NoTarget,
                        format!("no {} element matches the path's filter", def.name),
                    )
                })?;
                match sub_def {
                    Some(s) => set_sub(&mut element, s, Op::Add, Some(value))?,
                    None => {
                        if let (Value::Object(e), Value::Object(v)) =
                            (&mut element, coerce(def, value)?)
                        {
                            e.extend(v);
                        }
                    }
                }
                items.push(element);
            } else {
                for i in &matching {
                    match sub_def {
                        Some(s) => set_sub(&mut items[*i], s, Op::Add, Some(value))?,
                        None => {
                            let replacement = coerce(def, value)?;
                            if op == Op::Replace {
                                items[*i] = replacement;
                            } else if let (Some(obj), Value::Object(v)) =
                                (items[*i].as_object_mut(), replacement)
                            {
                                obj.extend(v);
                            }
                        }
                    }
                }
            }
            settle_primary(items);
        }
    }
    Ok(())
}

/// The element a filter of `eq` comparisons joined by `and` describes
/// (`type eq "work"` → `{"type": "work"}`); `None` for any other filter.
fn element_from_filter(filter: &Filter, def: &Attribute) -> Option<Value> {
    fn collect(filter: &Filter, def: &Attribute, out: &mut Map<String, Value>) -> Option<()> {
        match filter {
            Filter::And(a, b) => {
                collect(a, def, out)?;
                collect(b, def, out)
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.sub.is_none() && path.urn.is_none() => {
                let sub = def.sub(&path.name)?;
                let v = match value {
                    CompValue::String(s) => Value::String(s.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::Null => return None,
                };
                out.insert(sub.name.to_string(), v);
                Some(())
            }
            _ => None,
        }
    }
    let mut out = Map::new();
    collect(filter, def, &mut out)?;
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests;
