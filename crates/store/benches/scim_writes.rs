//! The store's hot SCIM paths without HTTP: creating a user, changing one (a PATCH of a title)
//! and reading one. Each write is one transaction, committed before the next starts (no other
//! writer shares its commit), so the figure is the store's own cost per operation. On SQLite
//! (a fresh file) by default; `LANYARD_BENCH_DATABASE_URL=postgres://…` runs the same on
//! PostgreSQL (an organization of its own is made each run).

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use lanyard_store::{AuditEvent, NewOrganization, NewRole, OrgSettings, Store};
use serde_json::json;

fn scim_writes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = std::env::var("LANYARD_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let audit = AuditEvent::success("bench", "scim.write");
    let (store, org_id) = rt.block_on(async {
        let store = Store::open(&url).await.expect("store");
        let org = NewOrganization {
            short_name: format!("bench-{}", std::process::id()),
            display_name: "Bench".into(),
            business_unit_id: None,
            domains: vec![],
            settings: OrgSettings::default(),
            default_roles: vec![NewRole {
                name: "Agent".into(),
                description: String::new(),
                permissions: vec![],
            }],
        };
        let org = store.create_org(&org, &audit).await.expect("org");
        (store, org.id)
    });
    let n = AtomicU64::new(0);
    let user = |i: u64| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("user{i}@bench.example"),
            "name": { "givenName": "Bench", "familyName": format!("User {i}") },
            "emails": [{ "value": format!("user{i}@bench.example"), "primary": true }],
            "active": true,
        })
    };
    c.bench_function("scim_create_user", |b| {
        b.iter(|| {
            let doc = user(n.fetch_add(1, Ordering::Relaxed));
            rt.block_on(store.scim_create_user(&org_id, &doc, &audit))
                .expect("create")
        })
    });
    let id = rt
        .block_on(store.scim_create_user(&org_id, &user(u64::MAX), &audit))
        .expect("create")
        .id;
    c.bench_function("scim_update_user", |b| {
        b.iter(|| {
            let title = format!("title {}", n.fetch_add(1, Ordering::Relaxed));
            let change = |doc: &serde_json::Value| {
                let mut doc = doc.clone();
                doc["title"] = json!(title);
                Ok::<_, ()>(doc)
            };
            rt.block_on(store.scim_update_user(&org_id, &id, None, change, &audit))
                .expect("update")
                .expect("changed")
        })
    });
    c.bench_function("scim_get_user", |b| {
        b.iter(|| {
            rt.block_on(store.scim_get_user(&org_id, &id))
                .expect("read")
                .expect("found")
        })
    });
}

criterion_group!(benches, scim_writes);
criterion_main!(benches);
