#![no_main]
//! A PATCH body from a client: parsing and applying never panic, a refused PATCH leaves the user
//! as it was, and an applied one gives a document the resource rules then judge without panic.
use lanyard_scim::eval::ResourceSchema;
use lanyard_scim::patch::{apply, parse_request};
use lanyard_scim::resource::from_request;
use lanyard_scim::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(operations) = parse_request(&body) else {
        return;
    };
    let schema = ResourceSchema {
        core: &USER_SCHEMA,
        extensions: &[&ENTERPRISE_USER_SCHEMA],
    };
    let original = json!({
        "schemas": [USER_SCHEMA.id], "userName": "ada", "active": true,
        "emails": [{"value": "ada@example.com", "type": "work"}],
        "groups": [{"value": "g1"}]
    });
    let mut user = original.clone();
    match apply(&mut user, &operations, &schema) {
        Ok(()) => {
            let _ = from_request(&user, &schema);
        }
        Err(_) => assert_eq!(user, original, "a refused PATCH changed the user"),
    }
});
