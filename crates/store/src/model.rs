//! The values the store reads and writes. Ids are UUID text; times are unix milliseconds.

use serde::{Deserialize, Serialize};

use crate::db::Record;

/// Per-organization settings, stored as one JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    /// The role every provisioned user gets (`Agent` for a new organization).
    #[serde(default = "default_provisioning_role")]
    pub default_provisioning_role: String,
    /// Whether a first SAML sign-in may create the user.
    #[serde(default)]
    pub jit_provisioning: bool,
    /// Whether password sign-in is left only to holders of the `Admin` role (break-glass):
    /// everyone else signs in through the organization's SSO connection.
    #[serde(default)]
    pub enforce_sso: bool,
}

fn default_provisioning_role() -> String {
    "Agent".to_string()
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            default_provisioning_role: default_provisioning_role(),
            jit_provisioning: false,
            enforce_sso: false,
        }
    }
}

/// A customer organization (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct Organization {
    pub id: String,
    pub short_name: String,
    pub display_name: String,
    pub business_unit_id: i64,
    #[record(skip)]
    pub domains: Vec<String>,
    #[record(json)]
    pub settings: OrgSettings,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating an organization takes. Default roles are created in the same transaction.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub short_name: String,
    pub display_name: String,
    /// `None` picks a free one.
    pub business_unit_id: Option<i64>,
    pub domains: Vec<String>,
    pub settings: OrgSettings,
    pub default_roles: Vec<NewRole>,
}

/// A change to an organization; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrganizationPatch {
    pub display_name: Option<String>,
    pub domains: Option<Vec<String>>,
    pub settings: Option<OrgSettings>,
}

/// A named set of permissions in one organization.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct Role {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: String,
    #[record(json)]
    pub permissions: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating a role takes.
#[derive(Debug, Clone)]
pub struct NewRole {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
}

/// A change to a role; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
}

/// Whether a user is a person or a service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    Human,
    Service,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Human => "human",
            UserKind::Service => "service",
        }
    }

    pub(crate) fn parse(s: &str) -> crate::Result<UserKind> {
        match s {
            "human" => Ok(UserKind::Human),
            "service" => Ok(UserKind::Service),
            other => Err(crate::StoreError::Corrupt(format!(
                "unknown user kind {other:?}"
            ))),
        }
    }
}

/// A role as seen from a user: enough to show and to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

/// A user of one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    pub kind: UserKind,
    pub roles: Vec<RoleRef>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub has_password: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating a user takes. Roles are ids of roles in the same organization.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    pub kind: UserKind,
    pub role_ids: Vec<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub password_hash: Option<String>,
}

/// A change to a user. Outer `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub user_name: Option<String>,
    pub email: Option<Option<String>>,
    pub given_name: Option<Option<String>>,
    pub family_name: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub active: Option<bool>,
    pub external_id: Option<Option<String>>,
    pub role_ids: Option<Vec<String>>,
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    pub password_hash: Option<Option<String>>,
}

/// Which users a list returns.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub kind: Option<UserKind>,
    /// Text found in the user name, e-mail address or display name (any case).
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Which audit records to list: each set field narrows the list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The actor exactly (`user:<id>`, `access_key:<id>`, `operator:<id>`…).
    pub actor: Option<String>,
    /// The action, or an action prefix ending in `.` (`sso_connection.`).
    pub action: Option<String>,
    pub target: Option<String>,
    /// From this time (unix ms), inclusive.
    pub since: Option<i64>,
    /// Before this time (unix ms).
    pub until: Option<i64>,
}

/// One page of a list and the total across pages.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// An access key of a service account. The secret is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct AccessKey {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    /// Where the key, acting as an OAuth client of its service account, may send codes.
    #[record(json)]
    pub redirect_uris: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What creating an access key takes: its id, its secret's hash, and where it may send codes
/// as an OAuth client.
#[derive(Debug, Clone, Copy)]
pub struct NewAccessKey<'a> {
    pub id: &'a str,
    pub secret_hash: &'a str,
    pub redirect_uris: &'a [String],
}

/// What authenticating by an access key needs in one read.
#[derive(Debug, Clone)]
pub struct AccessKeyCredential {
    pub key: AccessKey,
    pub secret_hash: String,
    pub user_active: bool,
    pub user_kind: UserKind,
}

/// An operator key: full access to every organization.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct OperatorKey {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

/// One audit record to write. Mutating store calls write theirs in the same transaction.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Who acted: `operator:<key id>`, `access_key:<key id>`, `cli`.
    pub actor: String,
    /// What was done, `org.create`, `user.update`, ….
    pub action: String,
    pub org_id: Option<String>,
    /// The id of the resource acted on; creations fill it with the new id when empty.
    pub target: Option<String>,
    pub outcome: Outcome,
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// A successful action by `actor`.
    pub fn success(actor: &str, action: &str) -> AuditEvent {
        AuditEvent {
            actor: actor.to_string(),
            action: action.to_string(),
            org_id: None,
            target: None,
            outcome: Outcome::Success,
            detail: serde_json::Value::Null,
        }
    }
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Record)]
pub struct AuditRecord {
    pub id: String,
    pub seq: i64,
    pub org_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    #[record(json)]
    pub detail: serde_json::Value,
    pub created_at: i64,
}

/// A SCIM token of an organization. The secret is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Record)]
pub struct ScimToken {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// The token's first characters, shown to tell tokens apart.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}
