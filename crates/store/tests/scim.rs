//! SCIM storage on SQLite and PostgreSQL: filters compiled to SQL agree with the in-memory
//! evaluator, memberships survive concurrent changes, events follow every change in order.

use std::collections::BTreeSet;

use lanyard_scim::eval::{matches, ResourceSchema};
use lanyard_scim::filter::parse_filter;
use lanyard_scim::messages::SortOrder;
use lanyard_scim::patch;
use lanyard_scim::resource::from_request;
use lanyard_scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use lanyard_store::testing::TestDb;
use lanyard_store::*;
use serde_json::{json, Value};

const USERS: ResourceSchema<'static> = ResourceSchema {
    core: &USER_SCHEMA,
    extensions: &[&ENTERPRISE_USER_SCHEMA],
};
const GROUPS: ResourceSchema<'static> = ResourceSchema {
    core: &GROUP_SCHEMA,
    extensions: &[],
};

fn audit(action: &str) -> AuditEvent {
    AuditEvent::success("test", action)
}

async fn org(store: &Store, short_name: &str) -> Organization {
    store
        .create_org(
            &NewOrganization {
                short_name: short_name.into(),
                display_name: short_name.into(),
                business_unit_id: None,
                domains: vec![],
                settings: OrgSettings::default(),
                default_roles: vec![NewRole {
                    name: "Agent".into(),
                    description: String::new(),
                    permissions: vec![],
                }],
            },
            &audit("org.create"),
        )
        .await
        .unwrap()
}

fn people() -> Vec<Value> {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    vec![
        json!({"userName": "Ada@Example.com", "externalId": "ext-1", "displayName": "Ada Lovelace",
               "name": {"givenName": "Ada", "familyName": "Lovelace"}, "title": "Countess",
               "emails": [{"value": "ada@example.com", "type": "work", "primary": true},
                          {"value": "ada@home.example", "type": "home"}],
               ent: {"department": "Engines", "employeeNumber": "7"}}),
        json!({"userName": "grace", "externalId": "EXT-1", "active": false,
               "name": {"givenName": "Grace", "familyName": "Hopper"},
               "emails": [{"value": "grace@navy.example", "type": "work"}],
               "phoneNumbers": [{"value": "555-0100", "type": "mobile"}],
               ent: {"department": "engines"}}),
        json!({"userName": "linus_t", "title": "Maintainer", "nickName": "100%",
               "emails": [{"value": "linus@kernel.example", "type": "home"}]}),
        json!({"userName": "émile", "displayName": "Émile", "userType": "Contractor",
               "addresses": [{"locality": "Paris", "country": "FR", "primary": true}]}),
        json!({"userName": "zed", "active": true}),
    ]
}

const FILTERS: &[&str] = &[
    "userName eq \"ada@example.com\"",
    "USERNAME eq \"GRACE\"",
    "userName sw \"li\"",
    "userName co \"_\"",
    "userName ew \".COM\"",
    "userName gt \"h\"",
    "userName le \"grace\"",
    "userName ne \"zed\"",
    "externalId eq \"ext-1\"",
    "externalId eq \"Ext-1\"",
    "externalId pr",
    "not (externalId pr)",
    "active eq true",
    "active eq false",
    "active ne false",
    "displayName co \"love\"",
    "displayName pr",
    "name.givenName eq \"ADA\"",
    "name.familyName sw \"hop\"",
    "title eq \"countess\"",
    "title ne \"Countess\"",
    "title pr",
    "nickName co \"%\"",
    "nickName eq null",
    "emails.value eq \"ADA@example.com\"",
    "emails.value co \"kernel\"",
    "emails[value eq \"grace@navy.example\"]",
    "emails[type eq \"work\" and value co \"@example\"]",
    "emails[type eq \"home\"]",
    "emails[not (type eq \"home\")]",
    "emails.type eq \"mobile\"",
    "emails pr",
    "emails eq \"linus@kernel.example\"",
    "phoneNumbers.value sw \"555\"",
    "phoneNumbers[type eq \"mobile\"]",
    "addresses[locality eq \"paris\"]",
    "addresses.country pr",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"ENGINES\"",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr",
    "meta.created gt \"2000-01-01T00:00:00Z\"",
    "meta.lastModified lt \"2000-01-01T00:00:00+01:00\"",
    "userType eq \"contractor\" or title eq \"maintainer\"",
    "(active eq true and emails.type eq \"work\") or userName eq \"zed\"",
    "not (userName eq \"zed\" or userName eq \"grace\")",
    "id eq \"nope\"",
];

async fn filters_agree(db: TestDb) {
    let store = Store::open(&db.url).await.unwrap();
    let acme = org(&store, "acme").await;
    let other = org(&store, "other").await;
    for body in people() {
        let doc = from_request(&body, &USERS).unwrap();
        store
            .scim_create_user(&acme.id, &doc, &audit("scim.user.create"))
            .await
            .unwrap();
        // The same people in another organization must never show up in acme's results.
        store
            .scim_create_user(&other.id, &doc, &audit("scim.user.create"))
            .await
            .unwrap();
    }
    let all = store
        .scim_list_users(
            &acme.id,
            &USERS,
            &ScimQuery {
                filter: None,
                sort: None,
                offset: 0,
                count: 100,
                links: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.total, 5);
    let docs: Vec<(String, Value)> = all
        .resources
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.document(lanyard_scim::document::ResourceType::User),
            )
        })
        .collect();
    for text in FILTERS {
        let filter = parse_filter(text).unwrap();
        let expected: BTreeSet<&str> = docs
            .iter()
            .filter(|(_, d)| matches(&filter, d, &USERS))
            .map(|(id, _)| id.as_str())
            .collect();
        let got = store
            .scim_list_users(
                &acme.id,
                &USERS,
                &ScimQuery {
                    filter: Some(&filter),
                    sort: None,
                    offset: 0,
                    count: 100,
                    links: false,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let got_ids: BTreeSet<&str> = got.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(got_ids, expected, "{text} ({:?})", db.backend);
        assert_eq!(got.total as usize, expected.len(), "{text}");
    }
    let names = |list: &ScimList| -> Vec<String> {
        list.resources
            .iter()
            .map(|r| r.resource["userName"].as_str().unwrap().to_string())
            .collect()
    };
    // Sorting, case-insensitive, with absent values last; paging over the sorted list.
    // (ASCII names only: the order of "é" depends on the database's collation.)
    let path = lanyard_scim::filter::parse_path("userName").unwrap().attr;
    let ascii = parse_filter("userName ne \"émile\"").unwrap();
    let sorted = store
        .scim_list_users(
            &acme.id,
            &USERS,
            &ScimQuery {
                filter: Some(&ascii),
                sort: Some((&path, SortOrder::Descending)),
                offset: 1,
                count: 2,
                links: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&sorted), ["linus_t", "grace"]);
    assert_eq!(sorted.total, 4);
    let title = lanyard_scim::filter::parse_path("title").unwrap().attr;
    let by_title = store
        .scim_list_users(
            &acme.id,
            &USERS,
            &ScimQuery {
                filter: None,
                sort: Some((&title, SortOrder::Ascending)),
                offset: 0,
                count: 10,
                links: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&by_title)[..2], ["Ada@Example.com", "linus_t"]);
    // Unknown attributes and sub-attributes are refused, not ignored.
    for bad in [
        "shoeSize eq 1",
        "name.shoe eq \"x\"",
        "urn:x:y:z eq 1",
        "title[value eq 1]",
    ] {
        let filter = parse_filter(bad).unwrap();
        let err = store
            .scim_list_users(
                &acme.id,
                &USERS,
                &ScimQuery {
                    filter: Some(&filter),
                    sort: None,
                    offset: 0,
                    count: 10,
                    links: false,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidFilter(_)),
            "{bad}: {err:?}"
        );
    }
}
lanyard_store::both_backends!(filters_compile_to_sql_that_agrees_with_eval, filters_agree);

fn add_member_patch(id: &str) -> Value {
    json!({"schemas": [patch::PATCH_OP],
           "Operations": [{"op": "Add", "path": "members", "value": [{"value": id}]}]})
}

async fn memberships(db: TestDb) {
    let store = Store::open(&db.url).await.unwrap();
    let acme = org(&store, "acme").await;
    let other = org(&store, "other").await;
    let mut ids = Vec::new();
    for i in 0..16 {
        let doc = from_request(&json!({"userName": format!("user{i}")}), &USERS).unwrap();
        ids.push(
            store
                .scim_create_user(&acme.id, &doc, &audit("scim.user.create"))
                .await
                .unwrap()
                .id,
        );
    }
    let stranger = store
        .scim_create_user(
            &other.id,
            &from_request(&json!({"userName": "stranger"}), &USERS).unwrap(),
            &audit("scim.user.create"),
        )
        .await
        .unwrap();
    let group = store
        .scim_create_group(
            &acme.id,
            &from_request(
                &json!({"displayName": "Eng", "members": [{"value": ids[0]}]}),
                &GROUPS,
            )
            .unwrap(),
            &audit("scim.group.create"),
        )
        .await
        .unwrap();
    assert_eq!(group.links.len(), 1);

    // Sixteen concurrent PATCHes, each adding one member: none may be lost.
    let mut tasks = Vec::new();
    for id in &ids[1..] {
        let store = store.clone();
        let (org_id, group_id) = (acme.id.clone(), group.id.clone());
        let ops = patch::parse_request(&add_member_patch(id)).unwrap();
        tasks.push(tokio::spawn(async move {
            store
                .scim_update_group(
                    &org_id,
                    &group_id,
                    None,
                    |doc| {
                        let mut doc = doc.clone();
                        patch::apply(&mut doc, &ops, &GROUPS).map(|()| doc)
                    },
                    &audit("scim.group.patch"),
                )
                .await
                .unwrap()
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let now = store
        .scim_get_group(&acme.id, &group.id)
        .await
        .unwrap()
        .unwrap();
    let members: BTreeSet<String> = now.links.iter().map(|l| l.id.clone()).collect();
    assert_eq!(members, ids.iter().cloned().collect());
    assert_eq!(now.version, 16);

    // A member from another organization, or no user at all, is refused and changes nothing.
    for bad in [stranger.id.as_str(), "no-such-user"] {
        let ops = patch::parse_request(&add_member_patch(bad)).unwrap();
        let err = store
            .scim_update_group(
                &acme.id,
                &group.id,
                None,
                |doc| {
                    let mut doc = doc.clone();
                    patch::apply(&mut doc, &ops, &GROUPS).map(|()| doc)
                },
                &audit("scim.group.patch"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidReference(_)), "{err:?}");
    }
    let after = store
        .scim_get_group(&acme.id, &group.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, now);

    // Users see their groups; membership filters are lookups.
    let user = store
        .scim_get_user(&acme.id, &ids[3])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.links[0].id, group.id);
    let filter = parse_filter(&format!("members.value eq \"{}\"", ids[3])).unwrap();
    let found = store
        .scim_list_groups(
            &acme.id,
            &GROUPS,
            &ScimQuery {
                filter: Some(&filter),
                sort: None,
                offset: 0,
                count: 10,
                links: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    // The other organization sees neither the group nor the users.
    assert!(store
        .scim_get_group(&other.id, &group.id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .scim_get_user(&other.id, &ids[0])
        .await
        .unwrap()
        .is_none());

    // Membership events name the group and the member, not the whole group.
    let before_delete = store.list_events(&acme.id, 0, 1000).await.unwrap();
    let added = before_delete
        .iter()
        .find(|e| e.kind == "group.member.added")
        .unwrap();
    assert_eq!(
        added.data["group"],
        json!({"id": group.id, "displayName": "Eng"})
    );
    assert!(added.data["group"].get("members").is_none());
    // Deleting a user drops the membership (and says so); deleting the group keeps the users.
    store
        .scim_delete_user(&acme.id, &ids[0], None, &audit("scim.user.delete"))
        .await
        .unwrap();
    let last: Vec<String> = store
        .list_events(&acme.id, before_delete.last().unwrap().seq, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(last, ["group.member.removed", "user.deleted"]);
    let after = store
        .scim_get_group(&acme.id, &group.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.links.len(), 15);
    let stale = store
        .scim_delete_group(&acme.id, &group.id, Some(1), &audit("scim.group.delete"))
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { .. })),
        "{stale:?}"
    );
    store
        .scim_delete_group(&acme.id, &group.id, None, &audit("scim.group.delete"))
        .await
        .unwrap();
    assert!(store
        .scim_get_user(&acme.id, &ids[1])
        .await
        .unwrap()
        .is_some());
}
lanyard_store::both_backends!(concurrent_membership_changes_lose_nothing, memberships);

async fn events_and_rules(db: TestDb) {
    let store = Store::open(&db.url).await.unwrap();
    let acme = org(&store, "acme").await;
    let doc = from_request(&json!({"userName": "ada", "active": true}), &USERS).unwrap();
    let ada = store
        .scim_create_user(&acme.id, &doc, &audit("scim.user.create"))
        .await
        .unwrap();
    // userName is unique per organization, whatever its case.
    let dup = from_request(&json!({"userName": "ADA"}), &USERS).unwrap();
    let err = store
        .scim_create_user(&acme.id, &dup, &audit("scim.user.create"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // The default provisioning role is given.
    let user = store.get_user(&acme.id, &ada.id).await.unwrap();
    assert_eq!(user.roles[0].name, "Agent");

    let set_active = |active: bool| {
        move |doc: &Value| -> std::result::Result<Value, &str> {
            let mut doc = doc.clone();
            doc["active"] = Value::Bool(active);
            Ok(doc)
        }
    };
    for active in [false, false, true] {
        store
            .scim_update_user(
                &acme.id,
                &ada.id,
                None,
                set_active(active),
                &audit("scim.user.patch"),
            )
            .await
            .unwrap()
            .unwrap();
    }
    assert!(store.get_user(&acme.id, &ada.id).await.unwrap().active);
    let stale = store
        .scim_update_user(&acme.id, &ada.id, Some(1), set_active(false), &audit("x"))
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { current: 3 })),
        "{stale:?}"
    );
    // A refusal from the change writes nothing.
    let refused = store
        .scim_update_user(&acme.id, &ada.id, None, |_| Err("no"), &audit("x"))
        .await
        .unwrap();
    assert_eq!(refused, Err("no"));
    store
        .scim_delete_user(&acme.id, &ada.id, None, &audit("scim.user.delete"))
        .await
        .unwrap();

    let events = store.list_events(&acme.id, 0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "user.created",
            "user.deactivated",
            "user.reactivated",
            "user.deleted"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(events[1].data["active"], json!(false));
    assert_eq!(events[1].data["id"], json!(ada.id));
    let rest = store
        .list_events(&acme.id, events[1].seq, 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);

    // Without the default provisioning role, creation fails and leaves nothing behind.
    let agent = store
        .list_roles(&acme.id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "Agent")
        .unwrap();
    store
        .delete_role(&acme.id, &agent.id, &audit("role.delete"))
        .await
        .unwrap();
    let err = store
        .scim_create_user(&acme.id, &doc, &audit("scim.user.create"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Precondition(ref m) if m.contains("Agent")),
        "{err:?}"
    );
    assert_eq!(store.list_events(&acme.id, 0, 100).await.unwrap().len(), 4);
}
lanyard_store::both_backends!(events_follow_changes_and_rules_hold, events_and_rules);

/// `userName eq`, `externalId eq` and `emails.value eq` are index lookups, never a scan of the
/// organization's users (which at a million users would be the whole table).
async fn lookups_use_indexes(db: TestDb) {
    let store = Store::open(&db.url).await.unwrap();
    let acme = org(&store, "acme").await;
    for i in 0..50 {
        let doc = from_request(
            &json!({"userName": format!("u{i}"), "externalId": format!("e{i}"),
                    "emails": [{"value": format!("u{i}@x.example")}]}),
            &USERS,
        )
        .unwrap();
        store
            .scim_create_user(&acme.id, &doc, &audit("scim.user.create"))
            .await
            .unwrap();
    }
    for (filter, index) in [
        ("userName eq \"u7\"", "user_name_key"),
        ("externalId eq \"e7\"", "users_external_id"),
        ("emails.value eq \"u7@x.example\"", "user_emails_lookup"),
        ("emails[value eq \"u7@x.example\"]", "user_emails_lookup"),
    ] {
        let plan = store
            .explain_scim_users(&acme.id, &USERS, &parse_filter(filter).unwrap())
            .await
            .unwrap();
        let indexed = match db.backend {
            // SQLite names the automatic index of UNIQUE (org_id, user_name_key) by its columns.
            Backend::Sqlite => plan.contains(index) || plan.contains("user_name_key=?"),
            Backend::Postgres => {
                plan.contains(index) || plan.contains("users_org_id_user_name_key")
            }
        };
        assert!(indexed, "{filter} does not use {index}:\n{plan}");
        let scans_users = match db.backend {
            Backend::Sqlite => plan
                .lines()
                .any(|l| l.contains("SCAN r") && !l.contains("USING")),
            Backend::Postgres => plan.contains("Seq Scan on users"),
        };
        assert!(!scans_users, "{filter} scans users:\n{plan}");
    }
}
lanyard_store::both_backends!(lookups_are_index_lookups, lookups_use_indexes);

/// Addresses set through the admin API are found by `emails.value eq` like provisioned ones.
async fn admin_emails_are_found(db: TestDb) {
    let store = Store::open(&db.url).await.unwrap();
    let acme = org(&store, "acme").await;
    let user = store
        .create_user(
            &acme.id,
            &NewUser {
                user_name: "ada".into(),
                email: Some("Ada@Acme.example".into()),
                given_name: None,
                family_name: None,
                display_name: None,
                active: true,
                external_id: None,
                kind: UserKind::Human,
                role_ids: vec![],
                attributes: Default::default(),
                password_hash: None,
            },
            &audit("user.create"),
        )
        .await
        .unwrap();
    let found = |address: &'static str| {
        let store = store.clone();
        let org_id = acme.id.clone();
        async move {
            let filter = parse_filter(&format!("emails.value eq \"{address}\"")).unwrap();
            store
                .scim_list_users(
                    &org_id,
                    &USERS,
                    &ScimQuery {
                        filter: Some(&filter),
                        sort: None,
                        offset: 0,
                        count: 10,
                        links: false,
                    },
                )
                .await
                .unwrap()
                .total
        }
    };
    assert_eq!(found("ada@acme.example").await, 1);
    store
        .update_user(
            &acme.id,
            &user.id,
            &UserPatch {
                email: Some(Some("countess@acme.example".into())),
                ..Default::default()
            },
            None,
            &audit("user.update"),
        )
        .await
        .unwrap();
    assert_eq!(found("countess@acme.example").await, 1);
    assert_eq!(found("ada@acme.example").await, 0);
    let shown = store
        .scim_get_user(&acme.id, &user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        shown.resource["emails"][0]["value"],
        "countess@acme.example"
    );
}
lanyard_store::both_backends!(admin_set_addresses_are_found, admin_emails_are_found);
