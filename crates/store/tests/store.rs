//! The store's behaviour, on SQLite and on PostgreSQL alike.

use lanyard_store::testing::{postgres_skipped, TestDb};
use lanyard_store::*;

fn audit(action: &str) -> AuditEvent {
    AuditEvent::success("test", action)
}

fn new_org(short_name: &str) -> NewOrganization {
    NewOrganization {
        short_name: short_name.into(),
        display_name: format!("{short_name} Corp"),
        business_unit_id: None,
        domains: vec![format!("{short_name}.example")],
        settings: OrgSettings::default(),
        default_roles: vec![
            NewRole {
                name: "Admin".into(),
                description: "all".into(),
                permissions: vec!["roles.manage".into(), "scim".into()],
            },
            NewRole {
                name: "Agent".into(),
                description: "none".into(),
                permissions: vec![],
            },
        ],
    }
}

fn new_user(user_name: &str, role_ids: Vec<String>) -> NewUser {
    NewUser {
        user_name: user_name.into(),
        email: Some(format!("{user_name}@example.com")),
        given_name: Some("Given".into()),
        family_name: None,
        display_name: None,
        active: true,
        external_id: None,
        kind: UserKind::Human,
        role_ids,
        attributes: Default::default(),
        password_hash: None,
    }
}

async fn org_roles_users(db: TestDb) {
    let store = Store::open(&db.url).await.unwrap();
    store.ping().await.unwrap();
    let org = store
        .create_org(&new_org("acme"), &audit("org.create"))
        .await
        .unwrap();
    assert!((1_000_000..10_000_000).contains(&org.business_unit_id));
    assert_eq!(org.domains, vec!["acme.example".to_string()]);
    assert_eq!(store.get_org("acme").await.unwrap().id, org.id);
    assert_eq!(
        store
            .find_org_by_domain("ACME.example")
            .await
            .unwrap()
            .unwrap()
            .id,
        org.id
    );

    let roles = store.list_roles(&org.id).await.unwrap();
    let names: Vec<_> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Admin", "Agent"]);
    let admin = store.get_role(&org.id, "admin").await.unwrap();

    // Duplicate short name and duplicate domain are conflicts and leave nothing behind.
    let dup = store
        .create_org(&new_org("acme"), &audit("org.create"))
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(ref m)) if m.contains("short_name")),
        "{dup:?}"
    );
    let mut other = new_org("other");
    other.domains = vec!["acme.example".into()];
    let dup = store.create_org(&other, &audit("org.create")).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(ref m)) if m.contains("domain")),
        "{dup:?}"
    );
    assert_eq!(store.list_orgs(10, 0).await.unwrap().total, 1);
    assert!(store.find_org("other").await.unwrap().is_none());

    // Users: case-insensitive unique names, roles, paging in name order.
    for i in (0..7).rev() {
        store
            .create_user(
                &org.id,
                &new_user(&format!("user{i}"), vec![admin.id.clone()]),
                &audit("user.create"),
            )
            .await
            .unwrap();
    }
    let dup = store
        .create_user(&org.id, &new_user("USER3", vec![]), &audit("user.create"))
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(ref m)) if m.contains("user_name")),
        "{dup:?}"
    );
    let page = store
        .list_users(
            &org.id,
            &UserQuery {
                kind: None,
                search: None,
                limit: 3,
                offset: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 7);
    let names: Vec<_> = page.items.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["user3", "user4", "user5"]);
    assert!(page
        .items
        .iter()
        .all(|u| u.roles.len() == 1 && u.roles[0].name == "Admin"));

    // Role in use cannot be deleted.
    assert!(matches!(
        store
            .delete_role(&org.id, &admin.id, &audit("role.delete"))
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Update with versions.
    let u = store
        .find_user_by_name(&org.id, "USER1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.version, 1);
    let patch = UserPatch {
        active: Some(false),
        email: Some(None),
        ..Default::default()
    };
    let u2 = store
        .update_user(&org.id, &u.id, &patch, Some(1), &audit("user.update"))
        .await
        .unwrap();
    assert_eq!((u2.version, u2.active, u2.email.clone()), (2, false, None));
    let stale = store
        .update_user(&org.id, &u.id, &patch, Some(1), &audit("user.update"))
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { current: 2 })),
        "{stale:?}"
    );

    // A role of another organization cannot be granted; the failed update changes nothing.
    let other = store
        .create_org(&new_org("globex"), &audit("org.create"))
        .await
        .unwrap();
    let foreign = store.get_role(&other.id, "Admin").await.unwrap();
    let grab = UserPatch {
        role_ids: Some(vec![foreign.id.clone()]),
        given_name: Some(Some("X".into())),
        ..Default::default()
    };
    assert!(store
        .update_user(&org.id, &u.id, &grab, None, &audit("user.update"))
        .await
        .is_err());
    let after = store.get_user(&org.id, &u.id).await.unwrap();
    assert_eq!(after, u2);
    // Another organization's ids are invisible.
    assert!(store.find_user(&other.id, &u.id).await.unwrap().is_none());
    assert!(store
        .find_role(&other.id, &admin.id)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store
            .delete_user(&other.id, &u.id, &audit("user.delete"))
            .await,
        Err(StoreError::NotFound)
    ));

    // What a role's holders hold, through any of their roles.
    let agent = store.get_role(&org.id, "Agent").await.unwrap();
    let both = UserPatch {
        role_ids: Some(vec![agent.id.clone(), admin.id.clone()]),
        ..Default::default()
    };
    store
        .update_user(&org.id, &u.id, &both, None, &audit("user.update"))
        .await
        .unwrap();
    let through_agent = store
        .role_holders_permissions(&org.id, &agent.id)
        .await
        .unwrap();
    assert!(through_agent.contains("scim") && through_agent.contains("roles.manage"));
    let lone = store
        .create_role(
            &org.id,
            &NewRole {
                name: "Lone".into(),
                description: String::new(),
                permissions: vec!["x".into()],
            },
            &audit("role.create"),
        )
        .await
        .unwrap();
    assert!(store
        .role_holders_permissions(&org.id, &lone.id)
        .await
        .unwrap()
        .is_empty());
    // A role named after another role's id is not found in its place: the id wins.
    let decoy = NewRole {
        name: agent.id.clone(),
        description: String::new(),
        permissions: vec![],
    };
    store
        .create_role(&org.id, &decoy, &audit("role.create"))
        .await
        .unwrap();
    for _ in 0..3 {
        store
            .update_role(
                &org.id,
                &agent.id,
                &RolePatch {
                    description: Some("touched".into()),
                    ..Default::default()
                },
                &audit("role.update"),
            )
            .await
            .unwrap();
        assert_eq!(
            store.get_role(&org.id, &agent.id).await.unwrap().name,
            "Agent"
        );
    }

    let perms = store.user_permissions(&org.id, &u.id).await.unwrap();
    assert!(perms.contains("scim") && perms.contains("roles.manage"));

    // Audit rows were written with the changes, and only for the changes that happened.
    let log = store
        .list_audit(&org.id, &Default::default(), 100, 0)
        .await
        .unwrap();
    assert_eq!(
        log.items
            .iter()
            .filter(|r| r.action == "user.create")
            .count(),
        7
    );
    assert!(log
        .items
        .iter()
        .all(|r| r.org_id.as_deref() == Some(org.id.as_str())));
    let updates = log
        .items
        .iter()
        .filter(|r| r.action == "user.update")
        .count();
    assert_eq!(
        updates, 2,
        "only the updates that happened are audited (not the refused ones)"
    );
    assert!(log.items.iter().any(|r| r.action == "org.create"));

    // Deleting the organization removes what it owns.
    store
        .delete_org(&org.id, &audit("org.delete"))
        .await
        .unwrap();
    assert!(store.find_user(&org.id, &u.id).await.unwrap().is_none());
    assert!(store.list_roles(&org.id).await.unwrap().is_empty());
    store.close().await;
}
both_backends!(org_roles_users_work, org_roles_users);

async fn access_and_operator_keys(db: TestDb) {
    let store = Store::open(&db.url).await.unwrap();
    let org = store
        .create_org(&new_org("acme"), &audit("org.create"))
        .await
        .unwrap();
    let human = store
        .create_user(&org.id, &new_user("alice", vec![]), &audit("user.create"))
        .await
        .unwrap();
    let mut svc = new_user("scim-bot", vec![]);
    svc.kind = UserKind::Service;
    let svc = store
        .create_user(&org.id, &svc, &audit("user.create"))
        .await
        .unwrap();

    assert!(matches!(
        store
            .create_access_key(
                &org.id,
                &human.id,
                1,
                &NewAccessKey {
                    id: "ak_1",
                    secret_hash: "h1",
                    redirect_uris: &[]
                },
                &audit("k"),
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let key = store
        .create_access_key(
            &org.id,
            &svc.id,
            1,
            &NewAccessKey {
                id: "ak_2",
                secret_hash: "h2",
                redirect_uris: &[],
            },
            &audit("k"),
        )
        .await
        .unwrap();
    assert_eq!(key.last_used_at, None);
    let cred = store.access_key_credential("ak_2").await.unwrap().unwrap();
    assert_eq!(
        (cred.secret_hash.as_str(), cred.user_active, cred.user_kind),
        ("h2", true, UserKind::Service)
    );
    store.touch_access_key(&cred.key).await.unwrap();
    assert!(store
        .get_access_key(&org.id, &svc.id, "ak_2")
        .await
        .unwrap()
        .last_used_at
        .is_some());
    let revoked = store
        .revoke_access_key(&org.id, &svc.id, "ak_2", &audit("k"))
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        store
            .list_access_keys(&org.id, &svc.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.access_key_credential("nope").await.unwrap().is_none());

    let op = store
        .create_operator_key("op_1", "oph", &audit("operator_key.create"))
        .await
        .unwrap();
    assert_eq!(
        store.operator_key_by_hash("oph").await.unwrap().unwrap().0,
        op
    );
    store
        .revoke_operator_key("op_1", &audit("operator_key.revoke"))
        .await
        .unwrap();
    assert!(store
        .operator_key_by_hash("oph")
        .await
        .unwrap()
        .unwrap()
        .0
        .revoked_at
        .is_some());

    // A key is minted only for the account version that was checked.
    let promote = UserPatch {
        display_name: Some(Some("Bot".into())),
        ..Default::default()
    };
    store
        .update_user(&org.id, &svc.id, &promote, None, &audit("u"))
        .await
        .unwrap();
    let stale = store
        .create_access_key(
            &org.id,
            &svc.id,
            1,
            &NewAccessKey {
                id: "ak_3",
                secret_hash: "h3",
                redirect_uris: &[],
            },
            &audit("k"),
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { current: 2 })),
        "{stale:?}"
    );
    assert_eq!(
        store.issued_secret_count().await.unwrap(),
        2,
        "ak_2 and op_1"
    );

    // SCIM tokens: by hash, touched, revoked; scoped to their organization.
    let draft = ScimToken {
        id: "t1".into(),
        org_id: org.id.clone(),
        name: "okta".into(),
        prefix: "lyt_abc".into(),
        created_at: 0,
        expires_at: Some(4_102_444_800_000),
        last_used_at: None,
        revoked_at: None,
    };
    let t = store
        .create_scim_token(&org.id, &draft, "th", &audit("scim_token.create"))
        .await
        .unwrap();
    assert_eq!(
        (t.name.as_str(), t.expires_at),
        ("okta", Some(4_102_444_800_000))
    );
    let found = store.scim_token_by_hash("th").await.unwrap().unwrap();
    store.touch_scim_token(&found).await.unwrap();
    assert!(store
        .get_scim_token(&org.id, "t1")
        .await
        .unwrap()
        .last_used_at
        .is_some());
    assert!(matches!(
        store
            .revoke_scim_token("other-org", "t1", &audit("x"))
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .revoke_scim_token(&org.id, "t1", &audit("scim_token.revoke"))
        .await
        .unwrap();
    assert!(store.list_scim_tokens(&org.id).await.unwrap()[0]
        .revoked_at
        .is_some());
    assert_eq!(
        store.issued_secret_count().await.unwrap(),
        3,
        "scim tokens count as issued secrets"
    );

    assert_eq!(store.init_master_key_check("first").await.unwrap(), "first");
    assert_eq!(
        store.init_master_key_check("second").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.master_key_check().await.unwrap().as_deref(),
        Some("first")
    );
    store.close().await;
}
both_backends!(access_and_operator_keys_work, access_and_operator_keys);

/// The two dialects' migrations must define the same tables, columns and nullability.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_agree() {
    if postgres_skipped() {
        eprintln!("LANYARD_TEST_SKIP_POSTGRES=1: schema comparison not run");
        return;
    }
    let lite = TestDb::new(Backend::Sqlite).await.unwrap();
    let pg = TestDb::new(Backend::Postgres).await.unwrap();
    let lite_cols = Store::open(&lite.url)
        .await
        .unwrap()
        .schema_columns()
        .await
        .unwrap();
    let pg_cols = Store::open(&pg.url)
        .await
        .unwrap()
        .schema_columns()
        .await
        .unwrap();
    assert!(lite_cols.len() > 40, "schema looks empty: {lite_cols:?}");
    assert_eq!(lite_cols, pg_cols);
}
