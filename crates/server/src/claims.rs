//! What an ID token says about a user, and whether the user may sign in at all: `sub`,
//! `email`, `name`, `org`, `roles`, `groups`, then each claim an organization's extension
//! attributes name (seed 004's custom attribute mapping). One definition, so the admin API's
//! preview and the tokens issued at sign-in cannot drift apart.

use lanyard_scim::extension::ExtensionDef;
use lanyard_store::{Organization, User, UserKind};
use serde_json::{Map, Value};

/// Everything the claims are made from.
pub struct Subject<'a> {
    pub user: &'a User,
    pub org: &'a Organization,
    /// The user's SCIM document as stored, if the user was provisioned.
    pub resource: Option<&'a Value>,
    /// Display names of the user's groups.
    pub groups: Vec<String>,
    pub extensions: &'a [ExtensionDef],
}

/// The user's claims as stored now: their SCIM document, groups and the organization's
/// extensions read and passed to [`id_token_claims`].
pub async fn for_user(
    store: &lanyard_store::Store,
    org: &Organization,
    user: &User,
) -> Result<Map<String, Value>, lanyard_store::StoreError> {
    let provisioned = store.scim_get_user(&org.id, &user.id).await?;
    let extensions = crate::extensions::load(store, &org.id).await?;
    let groups = provisioned
        .iter()
        .flat_map(|r| &r.links)
        .filter_map(|g| g.display.clone())
        .collect();
    Ok(id_token_claims(&Subject {
        user,
        org,
        resource: provisioned.as_ref().map(|r| &r.resource),
        groups,
        extensions: &extensions,
    }))
}

/// Why the user may not sign in now, if not.
pub fn sign_in_refusal(user: &User) -> Option<&'static str> {
    if user.kind == UserKind::Service {
        Some("a service account signs in with its access keys only")
    } else if !user.active {
        Some("the user is deactivated (by the identity provider's provisioning or an admin); reactivating restores sign-in")
    } else {
        None
    }
}

/// The claims of an ID token issued to the user now. Extension claims never replace the
/// built-in ones (their names are refused when defined and skipped if stored anyway); when two
/// attributes name the same claim (in any letter case: definitions stored before that was
/// refused, or two admins defining at once), the first one in URN order that has a value
/// gives it.
pub fn id_token_claims(subject: &Subject) -> Map<String, Value> {
    let user = subject.user;
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(user.id.clone()));
    if let Some(email) = &user.email {
        claims.insert("email".into(), Value::String(email.clone()));
    }
    if let Some(name) = full_name(user) {
        claims.insert("name".into(), Value::String(name));
    }
    claims.insert("org".into(), Value::String(subject.org.short_name.clone()));
    let roles = user.roles.iter().map(|r| Value::String(r.name.clone()));
    claims.insert("roles".into(), Value::Array(roles.collect()));
    let groups = subject.groups.iter().cloned().map(Value::String);
    claims.insert("groups".into(), Value::Array(groups.collect()));
    if let Some(resource) = subject.resource {
        let mut extensions: Vec<&ExtensionDef> = subject.extensions.iter().collect();
        extensions.sort_by_key(|d| d.id.to_ascii_lowercase());
        for def in extensions {
            for (claim, value) in def.claims(resource) {
                // Names differing only in case count as one: some relying parties read
                // claims ignoring case.
                if !claims.keys().any(|k| k.eq_ignore_ascii_case(claim)) {
                    claims.insert(claim.to_string(), value);
                }
            }
        }
    }
    claims
}

/// The display name, or else the given and family names.
fn full_name(user: &User) -> Option<String> {
    if let Some(name) = user
        .display_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        return Some(name.to_string());
    }
    let parts: Vec<&str> = [user.given_name.as_deref(), user.family_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanyard_store::{OrgSettings, RoleRef};
    use serde_json::json;

    fn user() -> User {
        User {
            id: "u1".into(),
            org_id: "o1".into(),
            user_name: "ada@acme.test".into(),
            email: Some("ada@acme.test".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            display_name: None,
            active: true,
            external_id: None,
            kind: UserKind::Human,
            roles: vec![RoleRef {
                id: "r1".into(),
                name: "Agent".into(),
            }],
            attributes: Map::new(),
            has_password: false,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn org() -> Organization {
        Organization {
            id: "o1".into(),
            short_name: "acme".into(),
            display_name: "Acme".into(),
            business_unit_id: 1,
            domains: vec![],
            settings: OrgSettings::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn extension(urn: &str, claim: &str) -> ExtensionDef {
        ExtensionDef::parse(&json!({"id": urn, "attributes": [
            {"name": "costCode", "claim": claim},
            {"name": "secret"}
        ]}))
        .unwrap()
    }

    #[test]
    fn built_in_and_mapped_claims() {
        let (user, org) = (user(), org());
        let extensions = [
            extension("urn:z:ext", "cost_code"),
            extension("urn:a:ext", "Cost_Code"),
        ];
        let resource = json!({
            "userName": "ada@acme.test",
            "urn:z:ext": {"costCode": "from-z", "secret": "s"},
            "urn:a:ext": {"costCode": "from-a"}
        });
        let claims = id_token_claims(&Subject {
            user: &user,
            org: &org,
            resource: Some(&resource),
            groups: vec!["Engineering".into()],
            extensions: &extensions,
        });
        assert_eq!(
            Value::Object(claims),
            json!({
                "sub": "u1", "email": "ada@acme.test", "name": "Ada Lovelace", "org": "acme",
                "roles": ["Agent"], "groups": ["Engineering"], "Cost_Code": "from-a"
            })
        );
    }

    #[test]
    fn deactivated_users_and_service_accounts_do_not_sign_in() {
        let mut user = user();
        assert_eq!(sign_in_refusal(&user), None);
        user.active = false;
        assert!(sign_in_refusal(&user).unwrap().contains("deactivated"));
        user.active = true;
        user.kind = UserKind::Service;
        assert!(sign_in_refusal(&user).is_some());
    }
}
