/// The `scimType` values of RFC 7644 §3.12 this crate produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    InvalidPath,
    InvalidValue,
    InvalidSyntax,
    Mutability,
    NoTarget,
    TooMany,
    /// 409: a value that must be unique is taken.
    Uniqueness,
    /// A version the request names is not acceptable.
    InvalidVers,
    /// Sensitive data was sent where it may not be (in a URL, say).
    Sensitive,
}

impl ScimType {
    /// The keyword as it goes into a SCIM error body.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::InvalidPath => "invalidPath",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::Mutability => "mutability",
            ScimType::NoTarget => "noTarget",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// A SCIM protocol error: HTTP 400 with a `scimType` and a message a client's admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub scim_type: ScimType,
    pub message: String,
}

impl Error {
    pub(crate) fn new(scim_type: ScimType, message: impl Into<String>) -> Error {
        Error {
            scim_type,
            message: message.into(),
        }
    }
}
