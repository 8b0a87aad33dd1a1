#![no_main]
//! JSON documents from clients and admins: a POST/PUT body as a User and as a Group, a Bulk
//! request, and an extension definition; none panics, and a definition that reads reads back
//! the same from what it shows.
use lanyard_scim::bulk;
use lanyard_scim::eval::ResourceSchema;
use lanyard_scim::extension::ExtensionDef;
use lanyard_scim::resource::from_request;
use lanyard_scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let user = ResourceSchema {
        core: &USER_SCHEMA,
        extensions: &[&ENTERPRISE_USER_SCHEMA],
    };
    let group = ResourceSchema {
        core: &GROUP_SCHEMA,
        extensions: &[],
    };
    let _ = from_request(&body, &user);
    let _ = from_request(&body, &group);
    let _ = bulk::parse(&body);
    let _ = ExtensionDef::parse_stored(&body);
    if let Ok(def) = ExtensionDef::parse(&body) {
        let shown = def.to_json();
        assert_eq!(ExtensionDef::parse(&shown).ok(), Some(def.clone()));
        let _ = def.claims(&body);
    }
});
