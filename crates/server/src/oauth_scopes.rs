//! The scopes an OAuth client is registered with and may be granted. The identity scopes
//! shape the ID token; the permission scopes are what a client-credentials token of a client
//! that is not an access key may do on SCIM (a token acting for a user, or an access key's
//! service account, has that user's permissions instead).

use std::collections::BTreeSet;

/// What a client is registered with when it names no scopes.
pub const DEFAULT: &[&str] = &["openid", "profile", "email"];

const IDENTITY: &[&str] = &["openid", "profile", "email"];

/// Scopes that are permission names.
pub const PERMISSIONS: &[&str] = &[
    "scim",
    "employees.view",
    "employees.create",
    "employees.edit",
];

/// Refuses a registration's scopes that are unknown, repeated or too many.
pub fn check_registered(scopes: &[String]) -> Result<(), String> {
    if scopes.len() > 20 {
        return Err("scopes holds at most 20 values".into());
    }
    let mut seen = BTreeSet::new();
    for scope in scopes {
        if !IDENTITY.contains(&scope.as_str()) && !PERMISSIONS.contains(&scope.as_str()) {
            return Err(format!(
                "scope {scope:?} is unknown: use {} or {}",
                IDENTITY.join(", "),
                PERMISSIONS.join(", ")
            ));
        }
        if !seen.insert(scope) {
            return Err(format!("scope {scope:?} is listed twice"));
        }
    }
    Ok(())
}

/// The permissions a set of scopes names.
pub fn permissions(scopes: &[String]) -> BTreeSet<String> {
    scopes
        .iter()
        .filter(|s| PERMISSIONS.contains(&s.as_str()))
        .cloned()
        .collect()
}

/// The scope a client-credentials request is granted (RFC 6749 §4.4.2, §3.3): what it asks for
/// if the client is registered for all of it, or without a `scope` parameter, every permission
/// scope it is registered for. Identity scopes have no meaning without a user.
pub fn client_credentials(
    requested: Option<&str>,
    registered: &[String],
) -> Result<String, String> {
    let asked: Vec<&str> = match requested {
        Some(text) => text.split(' ').filter(|s| !s.is_empty()).collect(),
        None => registered
            .iter()
            .map(String::as_str)
            .filter(|s| PERMISSIONS.contains(s))
            .collect(),
    };
    if let Some(extra) = asked.iter().find(|s| !registered.iter().any(|r| r == *s)) {
        return Err(format!("the client is not registered for scope {extra:?}"));
    }
    if let Some(identity) = asked.iter().find(|s| IDENTITY.contains(s)) {
        return Err(format!(
            "scope {identity:?} needs a user; client credentials grant permission scopes only"
        ));
    }
    Ok(asked.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn registrations_name_known_scopes_once() {
        assert!(check_registered(&list(&["openid", "scim"])).is_ok());
        assert!(check_registered(&list(&["openid", "admin"])).is_err());
        assert!(check_registered(&list(&["scim", "scim"])).is_err());
    }

    #[test]
    fn client_credentials_grant_registered_permission_scopes_only() {
        let registered = list(&["openid", "scim", "employees.view"]);
        assert_eq!(
            client_credentials(None, &registered).unwrap(),
            "scim employees.view"
        );
        assert_eq!(
            client_credentials(Some("employees.view"), &registered).unwrap(),
            "employees.view"
        );
        assert!(client_credentials(Some("employees.edit"), &registered).is_err());
        assert!(client_credentials(Some("openid"), &registered).is_err());
        assert_eq!(
            permissions(&registered),
            ["employees.view".to_string(), "scim".to_string()].into()
        );
    }
}
