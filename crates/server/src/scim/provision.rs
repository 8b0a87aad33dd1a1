//! Users made at sign-in (just-in-time provisioning): the same SCIM User document, default
//! provisioning role, audit row and provisioning event as a user an IdP pushes through SCIM,
//! so the product cannot tell the two apart.

use lanyard_scim::resource::from_request;
use lanyard_store::{AuditEvent, ScimResource, StoreError};
use serde_json::{json, Value};

use super::resources::USERS;
use crate::state::AppState;

/// What a verified assertion says of a new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Names of the organization's groups to join; names no group has are passed over.
    pub groups: Vec<String>,
}

/// Why a user could not be made.
#[derive(Debug)]
pub enum Refused {
    /// The assertion's details do not make a valid SCIM User (e.g. an over-long name).
    Invalid(String),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

/// The SCIM User document for `profile`.
fn document(profile: &Profile) -> Value {
    let mut name = serde_json::Map::new();
    if let Some(given) = &profile.given_name {
        name.insert("givenName".into(), json!(given));
    }
    if let Some(family) = &profile.family_name {
        name.insert("familyName".into(), json!(family));
    }
    let mut doc = json!({
        "userName": profile.email,
        "active": true,
        "emails": [{"value": profile.email, "type": "work", "primary": true}],
    });
    if !name.is_empty() {
        doc["name"] = Value::Object(name);
    }
    doc
}

/// Makes the user `profile` describes in `org_id`, with the default provisioning role, and
/// adds them to the groups it names; `audit` is the creation's row (its actor the connection).
pub async fn provision(
    state: &AppState,
    org_id: &str,
    profile: &Profile,
    audit: &AuditEvent,
) -> Result<ScimResource, Refused> {
    let doc =
        from_request(&document(profile), &USERS.schema).map_err(|e| Refused::Invalid(e.message))?;
    let user = state.store.scim_create_user(org_id, &doc, audit).await?;
    let groups = state.store.group_ids_named(org_id, &profile.groups).await?;
    let mut joined = AuditEvent::success(&audit.actor, "group.joined_at_sign_in");
    joined.org_id = audit.org_id.clone();
    for group in groups {
        let add = |before: &Value| -> Result<Value, std::convert::Infallible> {
            let mut after = before.clone();
            let members = after
                .as_object_mut()
                .map(|o| o.entry("members").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = members {
                list.push(json!({ "value": user.id }));
            }
            Ok(after)
        };
        match state
            .store
            .scim_update_group(org_id, &group, None, add, &joined)
            .await
        {
            // A group deleted meanwhile is passed over like a name no group has.
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_a_valid_scim_user() {
        let profile = Profile {
            email: "grace@acme.example".into(),
            given_name: Some("Grace".into()),
            family_name: None,
            groups: vec![],
        };
        let doc = from_request(&document(&profile), &USERS.schema).expect("valid");
        assert_eq!(doc["userName"], "grace@acme.example");
        assert_eq!(doc["name"]["givenName"], "Grace");
        assert!(doc["name"].get("familyName").is_none());
        assert_eq!(doc["emails"][0]["primary"], true);
    }
}
