//! Extension schemas an organization defines for its users (custom attributes mapped from the
//! IdP, such as Okta's custom profile fields): read from an admin's JSON, checked, and seen as a
//! [`Schema`] so filters, sorting, PATCH and projection treat them like the built-in ones.
//!
//! Names are held to a narrow alphabet on purpose: the store splices attribute names and the
//! schema URN into JSON paths of SQL text (never values), so nothing that could end a quoted
//! path segment or a string literal may reach it.

use serde_json::{json, Value};

use crate::schema::{Attribute, Mutability, Returned, Schema, Type, ENTERPRISE_USER, GROUP, USER};
use crate::{Error, ScimType};

/// Most attributes in one extension.
pub const MAX_ATTRIBUTES: usize = 100;
/// Claims an ID token carries already or that relying parties act on (JWT's registered claims,
/// OpenID Connect's standard ones, token exchange and proof-of-possession members, and the ones
/// Entra ID issues for identity); an attribute may not take their place in any letter case,
/// since some relying parties look claims up ignoring case.
const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "s_hash",
    "sid",
    "cnf",
    "act",
    "may_act",
    "scope",
    "client_id",
    "sub_jwk",
    "events",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "org",
    "roles",
    "groups",
    "upn",
    "oid",
    "tid",
];

/// Whether `claim` is reserved, in any letter case.
pub fn reserved_claim(claim: &str) -> bool {
    RESERVED_CLAIMS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(claim))
}

/// Most extensions per organization.
pub const MAX_EXTENSIONS: usize = 20;

/// One attribute of an organization's extension: simple types only (no complex attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDef {
    pub name: String,
    pub kind: Type,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub description: String,
    /// The ID-token claim this attribute is issued as, if any.
    pub claim: Option<String>,
}

/// An organization's extension schema for users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionDef {
    /// The schema URN, e.g. `urn:ietf:params:scim:schemas:extension:acme:2.0:User`.
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ScimType::InvalidValue, message)
}

/// `urn:` then letters, digits and `.`, `-`, `_`, `:`; not ending in `:`.
pub fn valid_urn(urn: &str) -> bool {
    urn.len() <= 200
        && urn.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && urn.len() > 4
        && !urn.ends_with(':')
        && urn
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// RFC 7643 ATTRNAME: a letter, then letters, digits, `-` or `_` (at most 64).
pub fn valid_attribute_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn text<'v>(object: &'v Value, name: &str) -> Result<Option<&'v str>, Error> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{name} must be a string"))),
    }
}

/// A member of a JSON object by name, ignoring case (as SCIM names are).
fn member<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    let object = object.as_object()?;
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn flag(object: &Value, name: &str) -> Result<bool, Error> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(format!("{name} must be true or false"))),
    }
}

fn parse_type(name: &str) -> Option<Type> {
    Some(match name {
        "string" => Type::String,
        "boolean" => Type::Boolean,
        "integer" => Type::Integer,
        "decimal" => Type::Decimal,
        "dateTime" => Type::DateTime,
        "reference" => Type::Reference,
        "binary" => Type::Binary,
        _ => return None,
    })
}

impl ExtensionDef {
    /// Reads and checks a definition:
    /// `{"id": "urn:…", "name": "…", "description": "…", "attributes": [{"name": "costCode",
    /// "type": "string", "multiValued": false, "required": false, "caseExact": false,
    /// "description": "…", "claim": "cost_code"}]}`.
    pub fn parse(body: &Value) -> Result<ExtensionDef, Error> {
        Self::parse_with(body, true)
    }

    /// Reads a definition as stored: the rules on claims a definition was accepted under may
    /// have tightened since, and a stored definition must not vanish for that (its users'
    /// values would stop being accepted); claims that break today's rules are left out when
    /// tokens are made instead (see [`ExtensionDef::claims`]).
    pub fn parse_stored(body: &Value) -> Result<ExtensionDef, Error> {
        Self::parse_with(body, false)
    }

    fn parse_with(body: &Value, strict: bool) -> Result<ExtensionDef, Error> {
        let object = body
            .as_object()
            .ok_or_else(|| invalid("an extension schema is a JSON object"))?;
        for key in object.keys() {
            if !["id", "name", "description", "attributes", "schemas", "meta"]
                .contains(&key.as_str())
            {
                return Err(invalid(format!("unknown member {key:?}")));
            }
        }
        let id = text(body, "id")?.ok_or_else(|| invalid("id (the schema URN) is required"))?;
        if !valid_urn(id) {
            return Err(invalid(format!(
                "id {id:?} must be a URN (urn:…) of letters, digits, '.', '-', '_' and ':'"
            )));
        }
        if [USER, GROUP, ENTERPRISE_USER]
            .iter()
            .any(|builtin| builtin.eq_ignore_ascii_case(id))
            || id
                .to_ascii_lowercase()
                .starts_with("urn:ietf:params:scim:api:")
        {
            return Err(invalid(format!("{id} is a schema SCIM itself defines")));
        }
        let name = text(body, "name")?.unwrap_or(id).to_string();
        let description = text(body, "description")?.unwrap_or_default().to_string();
        let list = body
            .get("attributes")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("attributes must be an array"))?;
        if list.is_empty() || list.len() > MAX_ATTRIBUTES {
            return Err(invalid(format!(
                "an extension holds 1 to {MAX_ATTRIBUTES} attributes"
            )));
        }
        let mut attributes: Vec<AttributeDef> = Vec::with_capacity(list.len());
        for item in list {
            let attr = AttributeDef::parse(item, strict)?;
            if attributes
                .iter()
                .any(|a| a.name.eq_ignore_ascii_case(&attr.name))
            {
                return Err(invalid(format!(
                    "attribute {:?} is defined twice",
                    attr.name
                )));
            }
            if let Some(claim) = attr.claim.as_deref().filter(|_| strict) {
                let taken = |a: &AttributeDef| {
                    a.claim
                        .as_deref()
                        .is_some_and(|c| c.eq_ignore_ascii_case(claim))
                };
                if attributes.iter().any(taken) {
                    return Err(invalid(format!(
                        "claim {claim:?} is given to two attributes; an ID token holds it once"
                    )));
                }
            }
            attributes.push(attr);
        }
        if name.len() > 200 || description.len() > 2000 {
            return Err(invalid("name or description is too long"));
        }
        Ok(ExtensionDef {
            id: id.to_string(),
            name,
            description,
            attributes,
        })
    }

    /// The definition as the admin API and `/Schemas` show it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttributeDef::to_json).collect::<Vec<_>>(),
        })
    }

    /// The attribute definitions as [`Attribute`]s (borrowing this definition).
    pub fn attributes(&self) -> Vec<Attribute<'_>> {
        self.attributes
            .iter()
            .map(AttributeDef::attribute)
            .collect()
    }

    /// The ID-token claims this extension gives a user whose stored resource is `resource`:
    /// one per attribute that has a claim and a value of its current type and plurality
    /// (values stored under an earlier definition are left out), in the definition's order. A
    /// reserved claim (from a definition stored under older rules) is never given.
    pub fn claims(&self, resource: &Value) -> Vec<(&str, Value)> {
        let Some(values) = member(resource, &self.id) else {
            return Vec::new();
        };
        self.attributes
            .iter()
            .filter_map(|a| {
                let claim = a.claim.as_deref().filter(|c| !reserved_claim(c))?;
                let value = member(values, &a.name)?;
                let fits = match value {
                    Value::Array(items) => {
                        a.multi_valued && !items.is_empty() && items.iter().all(|v| a.holds(v))
                    }
                    single => !a.multi_valued && a.holds(single),
                };
                fits.then(|| (claim, value.clone()))
            })
            .collect()
    }

    /// Whether this definition may join (or replace its own URN among) an organization's
    /// `others`: an attribute keeps its type and plurality once defined (users' values are
    /// stored under them), and a claim is given by one attribute of the organization only, in
    /// any letter case (within one definition, [`ExtensionDef::parse`] checks that).
    pub fn fits_beside(&self, others: &[ExtensionDef]) -> Result<(), Error> {
        for old in others {
            if old.id.eq_ignore_ascii_case(&self.id) {
                for before in &old.attributes {
                    let kept = self
                        .attributes
                        .iter()
                        .find(|a| a.name.eq_ignore_ascii_case(&before.name));
                    if kept.is_some_and(|after| {
                        after.kind != before.kind || after.multi_valued != before.multi_valued
                    }) {
                        return Err(invalid(format!(
                            "{} keeps its type and plurality once defined (users' values are \
                             stored under them); define a new attribute instead",
                            before.name
                        )));
                    }
                }
                continue;
            }
            let taken = old.attributes.iter().find_map(|o| {
                let claim = o.claim.as_deref()?;
                self.attributes
                    .iter()
                    .filter_map(|a| a.claim.as_deref())
                    .any(|c| c.eq_ignore_ascii_case(claim))
                    .then_some((claim, &o.name))
            });
            if let Some((claim, name)) = taken {
                return Err(invalid(format!(
                    "claim {claim:?} is already given by {name} of {}; an ID token holds it once",
                    old.id
                )));
            }
        }
        Ok(())
    }

    /// This extension as a [`Schema`] over `attributes` (from [`ExtensionDef::attributes`]).
    pub fn schema<'a>(&'a self, attributes: &'a [Attribute<'a>]) -> Schema<'a> {
        Schema {
            id: &self.id,
            name: &self.name,
            description: &self.description,
            attributes,
        }
    }
}

impl AttributeDef {
    fn parse(item: &Value, strict: bool) -> Result<AttributeDef, Error> {
        let object = item
            .as_object()
            .ok_or_else(|| invalid("each attribute is a JSON object"))?;
        for key in object.keys() {
            if ![
                "name",
                "type",
                "multiValued",
                "required",
                "caseExact",
                "description",
                "claim",
                "mutability",
                "returned",
                "uniqueness",
            ]
            .contains(&key.as_str())
            {
                return Err(invalid(format!("unknown attribute member {key:?}")));
            }
        }
        let name = text(item, "name")?.ok_or_else(|| invalid("each attribute needs a name"))?;
        if !valid_attribute_name(name) {
            return Err(invalid(format!(
                "attribute name {name:?} must start with a letter and hold only letters, digits, \
                 '-' and '_' (at most 64)"
            )));
        }
        let type_name = text(item, "type")?.unwrap_or("string");
        let kind = parse_type(type_name).ok_or_else(|| {
            invalid(format!(
                "{name}: type {type_name:?} is not one of string, boolean, integer, decimal, \
                 dateTime, reference, binary"
            ))
        })?;
        let claim = text(item, "claim")?;
        if let Some(c) = claim {
            if !valid_attribute_name(c) {
                return Err(invalid(format!(
                    "{name}: claim {c:?} is not a valid claim name"
                )));
            }
            if strict && reserved_claim(c) {
                return Err(invalid(format!(
                    "{name}: claim {c:?} is one Lanyard issues itself"
                )));
            }
        }
        let description = text(item, "description")?.unwrap_or_default().to_string();
        if description.len() > 2000 {
            return Err(invalid(format!("{name}: description is too long")));
        }
        Ok(AttributeDef {
            name: name.to_string(),
            kind,
            multi_valued: flag(item, "multiValued")?,
            required: flag(item, "required")?,
            case_exact: flag(item, "caseExact")?,
            description,
            claim: claim.map(str::to_string),
        })
    }

    /// Whether `value` is a present value of this attribute's type.
    fn holds(&self, value: &Value) -> bool {
        match self.kind {
            Type::Boolean => value.is_boolean(),
            Type::Integer => value.is_i64() || value.is_u64(),
            Type::Decimal => value.is_number(),
            _ => value.as_str().is_some_and(|s| !s.is_empty()),
        }
    }

    fn to_json(&self) -> Value {
        let mut out = json!({
            "name": self.name,
            "type": self.kind.as_str(),
            "multiValued": self.multi_valued,
            "required": self.required,
            "caseExact": self.case_exact,
            "description": self.description,
        });
        if let Some(c) = &self.claim {
            out["claim"] = Value::String(c.clone());
        }
        out
    }

    fn attribute(&self) -> Attribute<'_> {
        Attribute {
            name: &self.name,
            kind: self.kind,
            multi_valued: self.multi_valued,
            required: self.required,
            case_exact: self.case_exact,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: crate::schema::Uniqueness::None,
            sub_attributes: &[],
            reference_types: &["external", "uri"],
            canonical_values: &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Value {
        json!({
            "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
            "name": "AcmeUser",
            "attributes": [
                {"name": "costCode", "type": "string", "claim": "cost_code"},
                {"name": "badges", "type": "integer", "multiValued": true},
                {"name": "hiredOn", "type": "dateTime"}
            ]
        })
    }

    #[test]
    fn a_definition_reads_and_becomes_a_schema() {
        let def = ExtensionDef::parse(&acme()).unwrap();
        assert_eq!(def.attributes.len(), 3);
        assert_eq!(def.attributes[0].claim.as_deref(), Some("cost_code"));
        let attrs = def.attributes();
        let schema = def.schema(&attrs);
        assert_eq!(schema.attribute("COSTCODE").unwrap().name, "costCode");
        assert!(schema.attribute("badges").unwrap().multi_valued);
        assert_eq!(
            schema.to_json("http://x")["attributes"][2]["type"],
            "dateTime"
        );
        assert_eq!(ExtensionDef::parse(&def.to_json()).unwrap(), def);
    }

    /// Claims come from the attributes that name one and have a value, found whatever the
    /// case of the stored names.
    #[test]
    fn attributes_with_a_claim_and_a_value_become_claims() {
        let def = ExtensionDef::parse(&json!({
            "id": "urn:acme:ext",
            "attributes": [
                {"name": "costCode", "claim": "cost_code"},
                {"name": "badges", "type": "integer", "multiValued": true, "claim": "badges"},
                {"name": "floor", "type": "integer", "claim": "floor"},
                {"name": "desk", "claim": "desk"},
                {"name": "secret"}
            ]
        }))
        .unwrap();
        let resource = json!({
            "userName": "ada",
            "URN:ACME:EXT": {"costcode": "CC-7", "badges": [], "floor": 3, "desk": null, "secret": "s"}
        });
        assert_eq!(
            def.claims(&resource),
            vec![("cost_code", json!("CC-7")), ("floor", json!(3))]
        );
        // Values of another shape (stored before the attribute was redefined) and empty ones
        // give nothing.
        let resource =
            json!({"urn:acme:ext": {"costCode": "", "badges": ["7"], "floor": "3", "desk": 4}});
        assert!(def.claims(&resource).is_empty());
        let resource = json!({"urn:acme:ext": {"badges": [7, 8]}});
        assert_eq!(def.claims(&resource), vec![("badges", json!([7, 8]))]);
        assert!(def.claims(&json!({"userName": "ada"})).is_empty());
        assert!(def
            .claims(&json!({"urn:acme:ext": "not an object"}))
            .is_empty());
    }

    #[test]
    fn unsafe_or_wrong_definitions_are_refused() {
        let cases = [
            json!({"id": "urn:x\"y", "attributes": [{"name": "a"}]}),
            json!({"id": "urn:x'y", "attributes": [{"name": "a"}]}),
            json!({"id": "urn:x,y}", "attributes": [{"name": "a"}]}),
            json!({"id": "notaurn", "attributes": [{"name": "a"}]}),
            json!({"id": USER, "attributes": [{"name": "a"}]}),
            json!({"id": "urn:acme:ext", "attributes": []}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a\"b"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "1a"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a.b"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a"}, {"name": "A"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a", "type": "complex"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a", "extra": 1}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a", "claim": "x y"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a", "claim": "sub"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a", "claim": "x"}, {"name": "b", "claim": "X"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a", "claim": "SUB"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a", "claim": "Roles"}]}),
            json!({"id": "urn:acme:ext", "attributes": [{"name": "a", "claim": "phone_number_verified"}]}),
        ];
        for body in cases {
            assert!(ExtensionDef::parse(&body).is_err(), "{body}");
        }
    }

    /// A redefinition keeps its attributes' types and plurality but may add attributes; a claim
    /// another extension gives (in any case) is refused.
    #[test]
    fn a_definition_fits_beside_the_others_or_says_why() {
        let def = |v: Value| ExtensionDef::parse(&v).unwrap();
        let others = [
            def(
                json!({"id": "urn:a:ext", "attributes": [{"name": "costCode", "claim": "cost_code"}]}),
            ),
            def(json!({"id": "urn:b:ext", "attributes": [{"name": "n", "type": "integer"}]})),
        ];
        let ok = [
            json!({"id": "urn:b:ext", "attributes": [{"name": "N", "type": "integer"}, {"name": "m"}]}),
            json!({"id": "urn:c:ext", "attributes": [{"name": "x", "claim": "other"}]}),
            json!({"id": "URN:A:EXT", "attributes": [{"name": "costCode", "claim": "cost_code"}]}),
        ];
        for body in ok {
            assert!(def(body.clone()).fits_beside(&others).is_ok(), "{body}");
        }
        let refused = [
            (
                json!({"id": "urn:b:ext", "attributes": [{"name": "n"}]}),
                "keeps its type",
            ),
            (
                json!({"id": "urn:b:ext", "attributes": [{"name": "n", "type": "integer", "multiValued": true}]}),
                "keeps its type",
            ),
            (
                json!({"id": "urn:c:ext", "attributes": [{"name": "x", "claim": "COST_CODE"}]}),
                "urn:a:ext",
            ),
        ];
        for (body, why) in refused {
            let e = def(body.clone()).fits_beside(&others).unwrap_err();
            assert!(e.message.contains(why), "{body}: {}", e.message);
        }
    }

    /// A definition stored under older rules on claims still reads (its attributes stay in
    /// use), but a claim that breaks today's rules is never given.
    #[test]
    fn stored_definitions_read_under_older_claim_rules() {
        let stored = json!({"id": "urn:acme:ext", "attributes": [
            {"name": "a", "claim": "Sub"}, {"name": "b", "claim": "x"}, {"name": "c", "claim": "x"}
        ]});
        assert!(ExtensionDef::parse(&stored).is_err());
        let def = ExtensionDef::parse_stored(&stored).unwrap();
        let resource = json!({"urn:acme:ext": {"a": "other-user", "b": "1", "c": "2"}});
        assert_eq!(
            def.claims(&resource),
            vec![("x", json!("1")), ("x", json!("2"))]
        );
        // Unsafe names are refused even so: they reach SQL text.
        let unsafe_name = json!({"id": "urn:acme:ext", "attributes": [{"name": "a'b"}]});
        assert!(ExtensionDef::parse_stored(&unsafe_name).is_err());
    }
}
