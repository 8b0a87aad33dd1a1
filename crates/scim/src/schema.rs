//! The User, Group and EnterpriseUser schemas (RFC 7643 §4, §8.7.1): every attribute with its
//! type, plurality, mutability, `returned`, uniqueness and case-exactness. Filters, PATCH and
//! projection consult these definitions; attribute names compare case-insensitively.

/// Schema URNs.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Attribute data types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// RFC 7643 §2.2 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §2.2 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// RFC 7643 §2.2 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition.
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'a> {
    pub name: &'a str,
    pub kind: Type,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub sub_attributes: &'a [Attribute<'a>],
    /// For references: what they may point at (`User`, `Group`, `external`, `uri`).
    pub reference_types: &'a [&'a str],
    /// The values a client should choose from, published in `/Schemas` (not enforced).
    pub canonical_values: &'a [&'a str],
}

impl<'a> Attribute<'a> {
    /// A sub-attribute by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'a Attribute<'a>> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema: its URN and attributes.
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub attributes: &'a [Attribute<'a>],
}

impl<'a> Schema<'a> {
    /// A top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'a Attribute<'a>> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

const fn attr(name: &'static str, kind: Type) -> Attribute<'static> {
    Attribute {
        name,
        kind,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        sub_attributes: &[],
        reference_types: &["external", "uri"],
        canonical_values: &[],
    }
}

const fn canonical(
    mut a: Attribute<'static>,
    values: &'static [&'static str],
) -> Attribute<'static> {
    a.canonical_values = values;
    a
}

const fn refers(mut a: Attribute<'static>, types: &'static [&'static str]) -> Attribute<'static> {
    a.reference_types = types;
    a
}

const fn string(name: &'static str) -> Attribute<'static> {
    attr(name, Type::String)
}

const fn exact(mut a: Attribute<'static>) -> Attribute<'static> {
    a.case_exact = true;
    a
}

const fn required(mut a: Attribute<'static>) -> Attribute<'static> {
    a.required = true;
    a
}

const fn read_only(mut a: Attribute<'static>) -> Attribute<'static> {
    a.mutability = Mutability::ReadOnly;
    a
}

const fn multi(mut a: Attribute<'static>) -> Attribute<'static> {
    a.multi_valued = true;
    a
}

const fn complex(name: &'static str, subs: &'static [Attribute<'static>]) -> Attribute<'static> {
    let mut a = attr(name, Type::Complex);
    a.sub_attributes = subs;
    a
}

/// `value`, `display`, `type`, `primary`: the usual sub-attributes of a multi-valued attribute.
const PLURAL: &[Attribute<'static>] = &[
    string("value"),
    string("display"),
    string("type"),
    attr("primary", Type::Boolean),
];

const NAME: &[Attribute<'static>] = &[
    string("formatted"),
    string("familyName"),
    string("givenName"),
    string("middleName"),
    string("honorificPrefix"),
    string("honorificSuffix"),
];

const ADDRESS: &[Attribute<'static>] = &[
    string("formatted"),
    string("streetAddress"),
    string("locality"),
    string("region"),
    string("postalCode"),
    string("country"),
    string("type"),
    attr("primary", Type::Boolean),
];

const GROUP_REF: &[Attribute<'static>] = &[
    read_only(string("value")),
    read_only(exact(refers(
        attr("$ref", Type::Reference),
        &["User", "Group"],
    ))),
    read_only(string("display")),
    read_only(string("type")),
];

const META: &[Attribute<'static>] = &[
    read_only(exact(string("resourceType"))),
    read_only(attr("created", Type::DateTime)),
    read_only(attr("lastModified", Type::DateTime)),
    read_only(exact(attr("location", Type::Reference))),
    read_only(exact(string("version"))),
];

const fn id() -> Attribute<'static> {
    let mut a = read_only(exact(string("id")));
    a.returned = Returned::Always;
    a.uniqueness = Uniqueness::Server;
    a
}

const fn user_name() -> Attribute<'static> {
    let mut a = required(string("userName"));
    a.uniqueness = Uniqueness::Server;
    a
}

const fn password() -> Attribute<'static> {
    let mut a = with_mutability(string("password"), Mutability::WriteOnly);
    a.returned = Returned::Never;
    a
}

const fn with_mutability(mut a: Attribute<'static>, mutability: Mutability) -> Attribute<'static> {
    a.mutability = mutability;
    a
}

/// Group members: `value` (the member's id) and `type` are fixed once added.
const MEMBER: &[Attribute<'static>] = &[
    with_mutability(string("value"), Mutability::Immutable),
    // Members are users: groups do not nest here.
    with_mutability(
        exact(refers(attr("$ref", Type::Reference), &["User"])),
        Mutability::Immutable,
    ),
    read_only(string("display")),
    with_mutability(canonical(string("type"), &["User"]), Mutability::Immutable),
];

/// The core User schema.
pub const USER_SCHEMA: Schema<'static> = Schema {
    id: USER,
    name: "User",
    description: "User Account",
    attributes: &[
        id(),
        exact(string("externalId")),
        user_name(),
        complex("name", NAME),
        string("displayName"),
        string("nickName"),
        attr("profileUrl", Type::Reference),
        string("title"),
        string("userType"),
        string("preferredLanguage"),
        string("locale"),
        string("timezone"),
        attr("active", Type::Boolean),
        password(),
        multi(complex("emails", PLURAL)),
        multi(complex("phoneNumbers", PLURAL)),
        multi(complex("ims", PLURAL)),
        multi(complex("photos", PLURAL)),
        multi(complex("addresses", ADDRESS)),
        read_only(multi(complex("groups", GROUP_REF))),
        multi(complex("entitlements", PLURAL)),
        multi(complex("roles", PLURAL)),
        multi(complex("x509Certificates", PLURAL)),
        read_only(complex("meta", META)),
    ],
};

/// The core Group schema.
pub const GROUP_SCHEMA: Schema<'static> = Schema {
    id: GROUP,
    name: "Group",
    description: "Group",
    attributes: &[
        id(),
        exact(string("externalId")),
        required(string("displayName")),
        multi(complex("members", MEMBER)),
        read_only(complex("meta", META)),
    ],
};

/// The Enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA: Schema<'static> = Schema {
    id: ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        string("employeeNumber"),
        string("costCenter"),
        string("organization"),
        string("division"),
        string("department"),
        complex(
            "manager",
            &[
                string("value"),
                exact(refers(attr("$ref", Type::Reference), &["User"])),
                read_only(string("displayName")),
            ],
        ),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_match_rfc_7643() {
        let user_name = USER_SCHEMA.attribute("USERNAME").unwrap();
        assert!(
            user_name.required
                && user_name.uniqueness == Uniqueness::Server
                && !user_name.case_exact
        );
        let id = USER_SCHEMA.attribute("id").unwrap();
        assert!(
            id.case_exact
                && id.mutability == Mutability::ReadOnly
                && id.returned == Returned::Always
        );
        assert_eq!(
            USER_SCHEMA.attribute("password").unwrap().returned,
            Returned::Never
        );
        let emails = USER_SCHEMA.attribute("emails").unwrap();
        assert!(emails.multi_valued && emails.sub("PRIMARY").unwrap().kind == Type::Boolean);
        assert!(USER_SCHEMA.attribute("groups").unwrap().mutability == Mutability::ReadOnly);
        let members = GROUP_SCHEMA.attribute("members").unwrap();
        assert_eq!(
            members.sub("value").unwrap().mutability,
            Mutability::Immutable
        );
        assert_eq!(
            ENTERPRISE_USER_SCHEMA
                .attribute("manager")
                .unwrap()
                .sub("displayName")
                .unwrap()
                .mutability,
            Mutability::ReadOnly
        );
        assert!(USER_SCHEMA.attribute("nope").is_none());
    }
}

impl Type {
    /// The RFC 7643 §7 name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Decimal => "decimal",
            Type::Integer => "integer",
            Type::DateTime => "dateTime",
            Type::Binary => "binary",
            Type::Reference => "reference",
            Type::Complex => "complex",
        }
    }
}

impl<'a> Attribute<'a> {
    /// The attribute's definition as `/Schemas` publishes it (RFC 7643 §7).
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::json!({
            "name": self.name,
            "type": self.kind.as_str(),
            "multiValued": self.multi_valued,
            "description": "",
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            },
            "uniqueness": match self.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
                Uniqueness::Global => "global",
            },
        });
        if !self.sub_attributes.is_empty() {
            out["subAttributes"] = self.sub_attributes.iter().map(Attribute::to_json).collect();
        }
        if !self.canonical_values.is_empty() {
            out["canonicalValues"] = serde_json::json!(self.canonical_values);
        }
        if self.kind == Type::Reference {
            out["referenceTypes"] = serde_json::json!(self.reference_types);
        }
        out
    }
}

impl<'a> Schema<'a> {
    /// The schema resource as `/Schemas/{id}` returns it, with its `meta.location` under `base`.
    pub fn to_json(&self, base: &str) -> serde_json::Value {
        serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", self.id) },
        })
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn schemas_publish_as_rfc_7643_section_7() {
        let user = USER_SCHEMA.to_json("https://x/scim/v2");
        assert_eq!(user["id"], USER);
        assert_eq!(
            user["meta"]["location"],
            format!("https://x/scim/v2/Schemas/{USER}")
        );
        let attrs = user["attributes"].as_array().unwrap();
        let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!(
            (
                user_name["type"].as_str(),
                user_name["required"].as_bool(),
                user_name["uniqueness"].as_str(),
                user_name["caseExact"].as_bool()
            ),
            (Some("string"), Some(true), Some("server"), Some(false))
        );
        let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"].as_array().unwrap().len(), 4);
        let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
        assert_eq!(
            (
                password["mutability"].as_str(),
                password["returned"].as_str()
            ),
            (Some("writeOnly"), Some("never"))
        );
        let group = GROUP_SCHEMA.to_json("");
        let members = group["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "members")
            .unwrap();
        assert_eq!(members["subAttributes"][0]["mutability"], "immutable");
        assert_eq!(
            ENTERPRISE_USER_SCHEMA.to_json("")["attributes"]
                .as_array()
                .unwrap()
                .len(),
            6
        );
    }
}
