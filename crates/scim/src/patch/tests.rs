use super::*;
use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::json;

const EXT: &[&Schema<'static>] = &[&ENTERPRISE_USER_SCHEMA];

fn user_schema() -> ResourceSchema<'static> {
    ResourceSchema {
        core: &USER_SCHEMA,
        extensions: EXT,
    }
}

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA.id],
        "id": "u1",
        "userName": "bjensen",
        "active": true,
        "name": { "givenName": "Barbara", "familyName": "Jensen" },
        "emails": [{ "value": "bjensen@example.com", "type": "work", "primary": true }]
    })
}

fn patch(resource: &mut Value, ops: Value, schema: &ResourceSchema<'_>) -> Result<(), Error> {
    let body = json!({ "schemas": [PATCH_OP], "Operations": ops });
    apply(resource, &parse_request(&body)?, schema)
}

#[test]
fn an_extension_urn_as_path_names_its_whole_object() {
    let schema = user_schema();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mut u = user();
    patch(
        &mut u,
        json!([{"op": "add", "path": ent,
               "value": {"schemas": [ent], "department": "R&D"}}]),
        &schema,
    )
    .unwrap();
    assert_eq!(u[ent]["department"], "R&D");
    assert!(u["schemas"].as_array().unwrap().iter().any(|s| s == ent));
    patch(
        &mut u,
        json!([{"op": "replace", "path": ent,
               "value": {"division": "Labs"}}]),
        &schema,
    )
    .unwrap();
    assert_eq!(u[ent], json!({"department": "R&D", "division": "Labs"}));
    patch(&mut u, json!([{"op": "remove", "path": ent}]), &schema).unwrap();
    assert!(u.get(ent).is_none());
    assert!(!u["schemas"].as_array().unwrap().iter().any(|s| s == ent));
}

#[test]
fn removing_members_by_one_object_removes_only_that_member() {
    let schema = ResourceSchema {
        core: &GROUP_SCHEMA,
        extensions: &[],
    };
    let mut g = json!({"schemas": [GROUP_SCHEMA.id], "displayName": "G",
                       "members": [{"value": "a"}, {"value": "b"}]});
    patch(
        &mut g,
        json!([{"op": "remove", "path": "members", "value": {"value": "a"}}]),
        &schema,
    )
    .unwrap();
    assert_eq!(g["members"], json!([{"value": "b"}]));
}

#[test]
fn okta_deactivates_with_a_pathless_replace() {
    let mut u = user();
    patch(
        &mut u,
        json!([{ "op": "replace", "value": { "active": false } }]),
        &user_schema(),
    )
    .unwrap();
    assert_eq!(u["active"], false);
}

#[test]
fn entra_capitalised_ops_string_booleans_and_dotted_keys() {
    let mut u = user();
    let ops = json!([
        { "op": "Replace", "path": "active", "value": "False" },
        { "op": "Replace", "value": { "name.givenName": "Babs", "displayName": "Babs Jensen" } },
        { "op": "Add", "path": "emails[type eq \"home\"].value", "value": "babs@jensen.org" },
        { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com" },
        { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Tour Operations" },
        { "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m1" }
    ]);
    patch(&mut u, ops, &user_schema()).unwrap();
    assert_eq!(u["active"], false);
    assert_eq!(u["name"]["givenName"], "Babs");
    assert_eq!(
        u["name"]["familyName"], "Jensen",
        "a sub-attribute replace keeps its siblings"
    );
    assert_eq!(u["displayName"], "Babs Jensen");
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2);
    assert_eq!(emails[0]["value"], "barbara@example.com");
    assert_eq!(
        emails[1],
        json!({ "type": "home", "value": "babs@jensen.org" })
    );
    let ext = &u[ENTERPRISE_USER_SCHEMA.id];
    assert_eq!(
        (ext["department"].as_str(), ext["manager"]["value"].as_str()),
        (Some("Tour Operations"), Some("m1"))
    );
    assert!(u["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == ENTERPRISE_USER_SCHEMA.id));
}

#[test]
fn extension_object_in_a_pathless_replace() {
    let mut u = user();
    let ops = json!([{ "op": "replace", "value": { ENTERPRISE_USER_SCHEMA.id: { "department": "R&D", "costCenter": "42" } } }]);
    patch(&mut u, ops, &user_schema()).unwrap();
    assert_eq!(u[ENTERPRISE_USER_SCHEMA.id]["costCenter"], "42");
}

#[test]
fn multi_valued_add_merges_and_keeps_one_primary() {
    let mut u = user();
    let ops = json!([{ "op": "add", "path": "emails", "value": [
        { "value": "BJENSEN@example.com", "type": "work" },
        { "value": "new@example.com", "type": "other", "primary": true }
    ] }]);
    patch(&mut u, ops, &user_schema()).unwrap();
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(
        emails.len(),
        2,
        "an equal value (case-insensitively) is not added twice"
    );
    assert_eq!(emails[0]["primary"], false);
    assert_eq!(emails[1]["primary"], true);
}

#[test]
fn group_members_every_way_clients_send_them() {
    let schema = ResourceSchema {
        core: &GROUP_SCHEMA,
        extensions: &[],
    };
    let mut g = json!({ "schemas": [GROUP_SCHEMA.id], "id": "g1", "displayName": "Admins" });
    patch(&mut g, json!([{ "op": "add", "path": "members", "value": [{ "value": "a" }, { "value": "b" }, { "value": "c" }] }]), &schema).unwrap();
    patch(
        &mut g,
        json!([{ "op": "remove", "path": "members[value eq \"a\"]" }]),
        &schema,
    )
    .unwrap();
    // Entra: remove by a value list.
    patch(
        &mut g,
        json!([{ "op": "Remove", "path": "members", "value": [{ "value": "b" }] }]),
        &schema,
    )
    .unwrap();
    assert_eq!(g["members"], json!([{ "value": "c" }]));
    // Okta: replace the whole list.
    patch(
        &mut g,
        json!([{ "op": "replace", "path": "members", "value": [{ "value": "d" }] }]),
        &schema,
    )
    .unwrap();
    assert_eq!(g["members"], json!([{ "value": "d" }]));
}

#[test]
fn errors_have_scim_types_and_change_nothing() {
    let schema = user_schema();
    let cases = [
        (
            json!([{ "op": "replace", "path": "id", "value": "x" }]),
            ScimType::Mutability,
        ),
        (
            json!([{ "op": "replace", "path": "meta.created", "value": "x" }]),
            ScimType::Mutability,
        ),
        (
            json!([{ "op": "remove", "path": "userName" }]),
            ScimType::InvalidValue,
        ),
        (json!([{ "op": "remove" }]), ScimType::NoTarget),
        (
            json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]),
            ScimType::NoTarget,
        ),
        (
            json!([{ "op": "replace", "path": "nope", "value": 1 }]),
            ScimType::InvalidPath,
        ),
        (
            json!([{ "op": "replace", "path": "emails[type eq", "value": 1 }]),
            ScimType::InvalidPath,
        ),
        (
            json!([{ "op": "replace", "path": "active", "value": "maybe" }]),
            ScimType::InvalidValue,
        ),
        (
            json!([{ "op": "merge", "path": "active", "value": true }]),
            ScimType::InvalidSyntax,
        ),
        (
            json!([{ "op": "replace", "value": [1] }]),
            ScimType::InvalidValue,
        ),
        (
            json!([{ "op": "add", "path": "displayName" }]),
            ScimType::InvalidValue,
        ),
    ];
    for (ops, expected) in cases {
        let mut u = user();
        // A good first operation is undone when a later one fails.
        let mut all = vec![json!({ "op": "replace", "path": "displayName", "value": "changed" })];
        all.extend(ops.as_array().unwrap().iter().cloned());
        let e = patch(&mut u, Value::Array(all), &schema).unwrap_err();
        assert_eq!(e.scim_type, expected, "{ops}: {e}");
        assert_eq!(u, user(), "{ops}: the resource changed");
    }
    let no_schema = json!({ "Operations": [{ "op": "add", "path": "title", "value": "x" }] });
    assert_eq!(
        parse_request(&no_schema).unwrap_err().scim_type,
        ScimType::InvalidSyntax
    );
}
