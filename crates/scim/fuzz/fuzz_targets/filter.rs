#![no_main]
//! Filter, PATCH-path and attribute-list text from a client: parsing never panics, and a parsed
//! filter evaluates against a user without panicking.
use lanyard_scim::eval::{matches, ResourceSchema};
use lanyard_scim::filter::{parse_filter, parse_path};
use lanyard_scim::messages::parse_attribute_list;
use lanyard_scim::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_path(text);
    let _ = parse_attribute_list(text);
    if let Ok(filter) = parse_filter(text) {
        let schema = ResourceSchema {
            core: &USER_SCHEMA,
            extensions: &[&ENTERPRISE_USER_SCHEMA],
        };
        let user = json!({
            "schemas": [USER_SCHEMA.id], "id": "u1", "userName": "Ada", "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "meta": {"created": "2024-01-02T03:04:05Z", "lastModified": "2024-01-02T03:04:05Z"},
            ENTERPRISE_USER_SCHEMA.id: {"department": "R&D", "manager": {"value": "u2"}}
        });
        let _ = matches(&filter, &user, &schema);
    }
});
