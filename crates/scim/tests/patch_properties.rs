//! Random PATCH requests never panic, and a refused one leaves the resource as it was.

use lanyard_scim::eval::ResourceSchema;
use lanyard_scim::patch::{apply, parse_request, PATCH_OP};
use lanyard_scim::schema::{Schema, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use proptest::prelude::*;
use serde_json::{json, Value};

const EXT: &[&Schema] = &[&ENTERPRISE_USER_SCHEMA];

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!(true)),
        Just(json!("False")),
        Just(json!("x@example.com")),
        Just(json!(7)),
        Just(json!({ "value": "a", "type": "work", "primary": true })),
        Just(json!([{ "value": "b" }, { "value": "c", "primary": true }])),
        Just(json!({ "givenName": "G" })),
        Just(json!({ "active": false, "name.familyName": "F" })),
        Just(
            json!({ "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "D" } })
        ),
    ]
}

fn path() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(vec![
        "active",
        "userName",
        "id",
        "name",
        "name.givenName",
        "emails",
        "emails.value",
        "emails[type eq \"work\"]",
        "emails[type eq \"work\"].value",
        "emails[value co \"a\" or primary eq true]",
        "members",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "title",
        "bogus",
        "emails[",
        "meta.created",
    ]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_patches_never_panic_and_refusals_change_nothing(
        ops in prop::collection::vec((prop::sample::select(vec!["add", "Replace", "remove", "bad"]), path(), prop::option::of(value())), 1..6)
    ) {
        let schema = ResourceSchema { core: &USER_SCHEMA, extensions: EXT };
        let original = json!({
            "schemas": [USER_SCHEMA.id], "id": "u1", "userName": "u", "active": true,
            "emails": [{ "value": "x@example.com", "type": "work" }]
        });
        let operations: Vec<Value> = ops.iter().map(|(op, path, value)| {
            let mut o = json!({ "op": op });
            if let Some(p) = path { o["path"] = json!(p); }
            if let Some(v) = value { o["value"] = v.clone(); }
            o
        }).collect();
        let body = json!({ "schemas": [PATCH_OP], "Operations": operations });
        let mut resource = original.clone();
        if let Ok(parsed) = parse_request(&body) {
            if apply(&mut resource, &parsed, &schema).is_err() {
                prop_assert_eq!(&resource, &original);
            }
        }
    }
}
