//! Just-in-time provisioning: with the organization's `jit_provisioning` on, a verified
//! assertion for someone the organization does not have yet makes them, with the details the
//! connection's attribute mapping points at (or the names IdPs commonly use) and the default
//! provisioning role.

use axum::http::StatusCode;
use axum::response::Response;
use lanyard_saml::response::Identity;
use lanyard_store::{AttributeMapping, AuditEvent, SsoConnection, StoreError};

use super::acs::Through;
use super::failures::Signed;
use crate::oidc::page::store_failure;
use crate::scim::provision::{provision, Profile, Refused};

/// Given names: Okta's and generic IdPs' plain names, Entra ID's claim URI, LDAP's OID.
const GIVEN_NAME: &[&str] = &[
    "firstName",
    "givenName",
    "given_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "urn:oid:2.5.4.42",
];

const FAMILY_NAME: &[&str] = &[
    "lastName",
    "surname",
    "familyName",
    "family_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "urn:oid:2.5.4.4",
];

/// The first value of the mapped attribute, or of the first common name present.
fn first<'a>(identity: &'a Identity, mapped: Option<&str>, common: &[&str]) -> Option<&'a str> {
    let names: Vec<&str> = match mapped {
        Some(name) => vec![name],
        None => common.to_vec(),
    };
    names
        .iter()
        .find_map(|n| identity.attribute(n).and_then(|v| v.first()))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// What the assertion says of the new user; `emails` are the addresses the user was looked
/// up by (the mapped attribute's, or the common ones'), the first of which they are made with.
/// Groups are read only from an attribute the mapping names: joining a group by its name is a
/// grant the organization chooses to give a connection, not a default.
pub(super) fn profile(
    identity: &Identity,
    mapping: &AttributeMapping,
    emails: &[String],
) -> Option<Profile> {
    let email = emails.first()?.clone();
    let groups = mapping
        .groups
        .as_deref()
        .and_then(|name| identity.attribute(name))
        .unwrap_or(&[]);
    Some(Profile {
        email,
        given_name: first(identity, mapping.given_name.as_deref(), GIVEN_NAME).map(str::to_string),
        family_name: first(identity, mapping.family_name.as_deref(), FAMILY_NAME)
            .map(str::to_string),
        groups: groups.to_vec(),
    })
}

/// Makes the user a verified identity describes; their id, or the page saying why not.
pub(super) async fn provisioned(
    through: &Through<'_>,
    connection: &SsoConnection,
    identity: &Identity,
    emails: &[String],
) -> Result<String, Response> {
    let state = through.state;
    let refuse = async |detail: String| {
        let refusal = (StatusCode::FORBIDDEN, "saml-jit-failed", Signed::Verified);
        through.failed(connection, refusal, &detail).await
    };
    let profile = profile(identity, &connection.attribute_mapping, emails)
        .filter(|p| crate::validate::email(&p.email).is_ok());
    let Some(profile) = profile else {
        let detail = format!(
            "connection {}: no usable e-mail address in the assertion (NameID {:?}) to make a user with",
            connection.id, identity.name_id
        );
        return Err(refuse(detail).await);
    };
    let mut audit = AuditEvent::success(
        &format!("sso_connection:{}", connection.id),
        "user.provisioned_at_sign_in",
    );
    audit.org_id = Some(connection.org_id.clone());
    audit.detail = serde_json::json!({
        "name_id": identity.name_id,
        "assertion_id": identity.assertion_id,
        "email": profile.email,
        "groups_asserted": profile.groups,
    });
    match provision(state, &connection.org_id, &profile, &audit).await {
        Ok(user) => Ok(user.id),
        // Made meanwhile by a sign-in or provisioning running at the same time.
        Err(Refused::Store(StoreError::Conflict(_))) => {
            let found = state
                .store
                .find_user_for_sign_in(&connection.org_id, emails)
                .await;
            match found {
                Ok(Some(id)) => Ok(id),
                Ok(None) => Err(refuse(format!("{:?} is taken", profile.email)).await),
                Err(e) => Err(store_failure(&e)),
            }
        }
        Err(Refused::Store(StoreError::Precondition(why))) | Err(Refused::Invalid(why)) => {
            Err(refuse(format!("connection {}: {why}", connection.id)).await)
        }
        Err(Refused::Store(e)) => Err(store_failure(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(attributes: &[(&str, &[&str])]) -> Identity {
        Identity {
            issuer: "https://idp.example".into(),
            name_id: "ada@acme.example".into(),
            name_id_format: None,
            session_index: None,
            authn_instant: 0,
            session_not_on_or_after: None,
            issue_instant: 0,
            assertion_id: "_a".into(),
            not_on_or_after: 0,
            in_response_to: None,
            attributes: attributes
                .iter()
                .map(|(name, values)| lanyard_saml::response::Attribute {
                    name: name.to_string(),
                    name_format: None,
                    friendly_name: None,
                    values: values.iter().map(|v| v.to_string()).collect(),
                })
                .collect(),
            response_signed: false,
            assertion_signed: true,
        }
    }

    #[test]
    fn common_names_are_read_when_nothing_is_mapped_and_groups_only_when_mapped() {
        let id = identity(&[
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                &["Ada"],
            ),
            ("lastName", &["Lovelace"]),
            ("groups", &["Engineering", "Admins"]),
        ]);
        let emails = vec!["ada@acme.example".to_string()];
        let p = profile(&id, &AttributeMapping::default(), &emails).unwrap();
        assert_eq!(p.email, "ada@acme.example");
        assert_eq!(p.given_name.as_deref(), Some("Ada"));
        assert_eq!(p.family_name.as_deref(), Some("Lovelace"));
        assert!(
            p.groups.is_empty(),
            "no groups unless the mapping names their attribute"
        );
        let mapped = AttributeMapping {
            groups: Some("groups".into()),
            ..AttributeMapping::default()
        };
        let p = profile(&id, &mapped, &emails).unwrap();
        assert_eq!(p.groups, ["Engineering", "Admins"]);
    }

    #[test]
    fn a_mapping_names_the_only_attribute_read() {
        let id = identity(&[
            ("fn", &["Augusta"]),
            ("firstName", &["Ada"]),
            ("teams", &["Math"]),
            ("groups", &["Ignored"]),
        ]);
        let mapping = AttributeMapping {
            email: Some("mail2".into()),
            given_name: Some("fn".into()),
            family_name: Some("ln".into()),
            groups: Some("teams".into()),
        };
        let p = profile(&id, &mapping, &["ada.l@acme.example".into()]).unwrap();
        assert_eq!(p.email, "ada.l@acme.example");
        assert_eq!(p.given_name.as_deref(), Some("Augusta"));
        assert_eq!(p.family_name, None);
        assert_eq!(p.groups, ["Math"]);
        assert!(
            profile(&id, &mapping, &[]).is_none(),
            "no address, nobody made"
        );
    }
}
