//! Permission names (as in DESIGN.md) and the rules for holding and granting them.

use std::collections::BTreeSet;

/// Every permission a role can carry.
pub const ALL: &[&str] = &[
    "sso.provider.view",
    "sso.provider.add",
    "sso.provider.edit",
    "sso.provider.delete",
    "scim",
    "employees.view",
    "employees.create",
    "employees.edit",
    "roles.manage",
    "tokens.manage",
    "apps.manage",
    "audit.view",
];

pub const SCIM: &str = "scim";
pub const EMPLOYEES_VIEW: &str = "employees.view";
pub const EMPLOYEES_CREATE: &str = "employees.create";
pub const EMPLOYEES_EDIT: &str = "employees.edit";
pub const ROLES_MANAGE: &str = "roles.manage";
pub const TOKENS_MANAGE: &str = "tokens.manage";
pub const AUDIT_VIEW: &str = "audit.view";
pub const SSO_VIEW: &str = "sso.provider.view";
pub const SSO_ADD: &str = "sso.provider.add";
pub const SSO_EDIT: &str = "sso.provider.edit";
pub const SSO_DELETE: &str = "sso.provider.delete";
pub const APPS_MANAGE: &str = "apps.manage";

/// Whether a set of held permissions includes `wanted`. Creating or editing employees brings
/// viewing them (an admin who may edit someone may see them).
pub fn holds(held: &BTreeSet<String>, wanted: &str) -> bool {
    held.contains(wanted)
        || (wanted == EMPLOYEES_VIEW
            && (held.contains(EMPLOYEES_CREATE) || held.contains(EMPLOYEES_EDIT)))
}

/// The names in `requested` that are not permissions, if any.
pub fn unknown<'a>(requested: impl IntoIterator<Item = &'a String>) -> Vec<&'a str> {
    requested
        .into_iter()
        .map(String::as_str)
        .filter(|p| !ALL.contains(p))
        .collect()
}

/// The permissions in `granted` that `held` lacks: granting them would raise someone above the
/// granter, which is refused.
pub fn missing<'a>(
    held: &BTreeSet<String>,
    granted: impl IntoIterator<Item = &'a String>,
) -> Vec<&'a str> {
    let mut out: Vec<&str> = granted
        .into_iter()
        .filter(|p| !holds(held, p))
        .map(String::as_str)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The roles every new organization starts with.
pub fn default_roles() -> Vec<lanyard_store::NewRole> {
    vec![
        lanyard_store::NewRole {
            name: "Admin".into(),
            description: "Every permission.".into(),
            permissions: ALL.iter().map(|p| p.to_string()).collect(),
        },
        lanyard_store::NewRole {
            name: "Agent".into(),
            description: "No administrative permission; given to provisioned users.".into(),
            permissions: vec![],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn editing_employees_brings_viewing_them() {
        assert!(holds(&set(&["employees.edit"]), "employees.view"));
        assert!(holds(&set(&["employees.create"]), "employees.view"));
        assert!(!holds(&set(&["employees.view"]), "employees.edit"));
        assert!(!holds(&set(&["scim"]), "employees.view"));
    }

    #[test]
    fn granting_more_than_held_is_named() {
        let granted = vec![
            "scim".to_string(),
            "employees.view".to_string(),
            "scim".to_string(),
        ];
        assert_eq!(missing(&set(&["employees.edit"]), &granted), vec!["scim"]);
        assert!(missing(&set(&["scim", "employees.view"]), &granted).is_empty());
    }

    #[test]
    fn unknown_permissions_are_named() {
        let asked = vec!["scim".to_string(), "root".to_string()];
        assert_eq!(unknown(&asked), vec!["root"]);
    }

    #[test]
    fn admin_has_everything_and_agent_nothing() {
        let roles = default_roles();
        assert_eq!(roles[0].permissions.len(), ALL.len());
        assert!(roles[1].permissions.is_empty());
    }
}
