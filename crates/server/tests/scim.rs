//! `/scim/v2` against the real server, on SQLite and PostgreSQL: the provisioning sequences Okta
//! and Entra ID send, tenant isolation, bad input, credentials, ETags, Bulk, events.

mod common;

use common::{Server, TestDb};
use lanyard_store::both_backends;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM client holding one organization's token.
struct Scim<'s> {
    server: &'s Server,
    auth: String,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    #[track_caller]
    fn expect(self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        if !self.body.is_null() {
            let ct = self.headers["content-type"].to_str().unwrap();
            assert_eq!(ct, "application/scim+json");
        }
        self.body
    }

    /// A SCIM error with this status (and scimType, if given).
    #[track_caller]
    fn error(self, status: StatusCode, scim_type: Option<&str>) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["schemas"], json!([ERROR]), "{}", self.body);
        assert_eq!(self.body["status"], json!(status.as_u16().to_string()));
        if let Some(t) = scim_type {
            assert_eq!(self.body["scimType"], json!(t), "{}", self.body);
        }
        let detail = self.body["detail"].as_str().unwrap().to_string();
        assert!(!detail.is_empty());
        detail
    }
}

impl<'s> Scim<'s> {
    async fn new(server: &'s Server, org: &str) -> Scim<'s> {
        let (s, token) = server
            .op(
                Method::POST,
                &format!("/api/v1/orgs/{org}/scim-tokens"),
                Some(json!({ "name": "idp" })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{token}");
        Scim {
            server,
            auth: format!("Bearer {}", token["token"].as_str().unwrap()),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .server
            .client
            .request(method, self.server.url(&format!("/scim/v2{path}")))
            .header("authorization", &self.auth);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(serde_json::to_vec(&body).unwrap());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    async fn patch(&self, path: &str, ops: Value) -> Reply {
        let body = json!({ "schemas": [PATCH_OP], "Operations": ops });
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Every user and group of the organization, as the API shows them (to prove refusals
    /// change nothing).
    async fn snapshot(&self) -> Value {
        let users = self.get("/Users?count=1000").await.expect(StatusCode::OK);
        let groups = self.get("/Groups?count=1000").await.expect(StatusCode::OK);
        json!([users, groups])
    }
}

fn q(filter: &str) -> String {
    url_escape(filter)
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn events(server: &Server, org: &str, after: i64) -> Vec<Value> {
    let (s, page) = server
        .op(
            Method::GET,
            &format!("/api/v1/orgs/{org}/events?after={after}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Okta's provisioning sequence, as its SCIM 2.0 connector sends it.
async fn okta_sequence(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let okta = Scim::new(&server, "acme").await;

    // Connector test, then import.
    let page = okta
        .get("/Users?startIndex=1&count=2")
        .await
        .expect(StatusCode::OK);
    assert_eq!(page["totalResults"], 0);
    assert_eq!(page["Resources"], json!([]));
    assert_eq!(page["startIndex"], 1);

    // Does the user exist? No: create it.
    let filter = q("userName eq \"ada@acme.example\"");
    let found = okta
        .get(&format!("/Users?filter={filter}&startIndex=1&count=100"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(found["totalResults"], 0);
    let created = okta
        .post(
            "/Users",
            json!({
                "schemas": [USER],
                "userName": "ada@acme.example",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"primary": true, "value": "ada@acme.example", "type": "work"}],
                "displayName": "Ada Lovelace",
                "locale": "en-US",
                "externalId": "00u1",
                "groups": [],
                "password": "Secret-1",
                "active": true
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let location = created.headers["location"].to_str().unwrap().to_string();
    let etag = created.headers["etag"].to_str().unwrap().to_string();
    let user = created.body;
    let id = user["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("{}/scim/v2/Users/{id}", server.base));
    assert_eq!(user["meta"]["location"], json!(location));
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(user["meta"]["version"], json!(etag));
    assert!(
        user.get("password").is_none(),
        "passwords are never returned"
    );
    assert_eq!(user["active"], true);

    // Found now, whatever the case of the filter value.
    let filter = q("userName eq \"ADA@acme.example\"");
    let found = okta
        .get(&format!("/Users?filter={filter}&startIndex=1&count=100"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], json!(id));
    // A second create of the same userName is a uniqueness conflict.
    okta.post(
        "/Users",
        json!({"schemas": [USER], "userName": "Ada@Acme.Example"}),
    )
    .await
    .error(StatusCode::CONFLICT, Some("uniqueness"));

    // PUT is a full replace.
    let mut replacement = user.clone();
    replacement["name"] = json!({"givenName": "Augusta Ada", "familyName": "King"});
    replacement.as_object_mut().unwrap().remove("locale");
    let put = okta
        .put(&format!("/Users/{id}"), replacement)
        .await
        .expect(StatusCode::OK);
    assert_eq!(put["name"]["givenName"], "Augusta Ada");
    assert!(put.get("locale").is_none());
    assert_eq!(put["meta"]["version"], "W/\"2\"");

    // Deactivate and reactivate the way Okta does.
    let off = okta
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(off["active"], false);
    let (_, admin_view) = server
        .op(Method::GET, &format!("/api/v1/orgs/acme/users/{id}"), None)
        .await;
    assert_eq!(admin_view["active"], false);
    let on = okta
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(on["active"], true);

    // Group push: create, then members through PUT (Okta sends them there) and PATCH.
    let second = okta
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "grace@acme.example"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id2 = second["id"].as_str().unwrap().to_string();
    let group = okta
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Engineering", "members": []}),
        )
        .await
        .expect(StatusCode::CREATED);
    let gid = group["id"].as_str().unwrap().to_string();
    let pushed = okta
        .put(
            &format!("/Groups/{gid}"),
            json!({"schemas": [GROUP], "id": gid, "displayName": "Engineering",
                   "members": [{"value": id, "display": "ada@acme.example"}]}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(pushed["members"][0]["value"], json!(id));
    assert_eq!(
        pushed["members"][0]["$ref"],
        json!(format!("{}/scim/v2/Users/{id}", server.base))
    );
    okta.patch(
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": id2, "display": "grace"}]}]),
    )
    .await
    .expect(StatusCode::OK);
    let removed = okta
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        removed["members"],
        json!([{"value": id2, "$ref": format!("{}/scim/v2/Users/{id2}", server.base), "type": "User"}])
    );
    // Users list their groups.
    let grace = okta
        .get(&format!("/Users/{id2}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(grace["groups"][0]["value"], json!(gid));
    assert_eq!(grace["groups"][0]["display"], "Engineering");
    // Renaming the group.
    let renamed = okta
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "value": {"id": gid, "displayName": "Eng"}}]),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(renamed["displayName"], "Eng");
    // Unassign and delete.
    okta.delete(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    okta.get(&format!("/Users/{id}"))
        .await
        .error(StatusCode::NOT_FOUND, None);
    okta.delete(&format!("/Users/{id}"))
        .await
        .error(StatusCode::NOT_FOUND, None);
    okta.delete(&format!("/Groups/{gid}"))
        .await
        .expect(StatusCode::NO_CONTENT);

    // The events tell the same story, in order.
    let all = events(&server, "acme", 0).await;
    assert_eq!(
        kinds(&all),
        [
            "user.created",
            "user.updated",
            "user.deactivated",
            "user.reactivated",
            "user.created",
            "group.created",
            "group.member.added",
            "group.member.added",
            "group.member.removed",
            "group.updated",
            "user.deleted",
            "group.deleted",
        ]
    );
    assert_eq!(all[2]["data"]["active"], false);
    assert_eq!(all[2]["resource_id"], json!(id));
    let seq = all[5]["seq"].as_i64().unwrap();
    assert_eq!(events(&server, "acme", seq).await.len(), all.len() - 6);
    // Every change was audited under the token.
    let (_, audit) = server
        .op(Method::GET, "/api/v1/orgs/acme/audit?limit=200", None)
        .await;
    let scim_rows = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["actor"].as_str().unwrap().starts_with("scim_token:"))
        .count();
    assert_eq!(scim_rows, 12);
}
both_backends!(okta_provisioning_sequence_works, okta_sequence);

/// Entra ID's provisioning sequence: externalId matching, capitalised ops with string booleans,
/// the enterprise extension, member add and remove.
async fn entra_sequence(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("contoso").await;
    let entra = Scim::new(&server, "contoso").await;

    let filter = q("externalId eq \"e1b2\"");
    let none = entra
        .get(&format!("/Users?filter={filter}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(none["totalResults"], 0);
    let manager = entra
        .post(
            "/Users",
            json!({"schemas": [USER, ENTERPRISE], "externalId": "m001", "userName": "boss@contoso.example",
                   "active": true}),
        )
        .await
        .expect(StatusCode::CREATED);
    let manager_id = manager["id"].as_str().unwrap().to_string();
    let user = entra
        .post(
            "/Users",
            json!({
                "schemas": [USER, ENTERPRISE],
                "externalId": "e1b2",
                "userName": "Test_User_ab6490ee@contoso.example",
                "active": true,
                "displayName": "Test User",
                "emails": [{"primary": true, "type": "work", "value": "Test_User_ab6490ee@contoso.example"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
                "roles": [],
                ENTERPRISE: {"department": "Sales", "employeeNumber": "1001"}
            }),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = user["id"].as_str().unwrap().to_string();
    assert_eq!(user[ENTERPRISE]["department"], "Sales");
    let found = entra
        .get(&format!("/Users?filter={filter}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(found["Resources"][0]["id"], json!(id));
    // externalId is case-exact.
    let upper = q("externalId eq \"E1B2\"");
    let none = entra
        .get(&format!("/Users?filter={upper}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(none["totalResults"], 0);

    let patched = entra
        .patch(
            &format!("/Users/{id}"),
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "displayName", "value": "Renamed"},
                {"op": "Add", "path": "name.givenName", "value": "Given"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.example"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
                {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager_id},
                {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Engineering"}
            ]),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched["active"], false);
    assert_eq!(patched["displayName"], "Renamed");
    assert_eq!(patched["name"]["givenName"], "Given");
    assert_eq!(patched["emails"][0]["value"], "new@contoso.example");
    assert_eq!(patched["phoneNumbers"][0]["value"], "+1 555 0100");
    assert_eq!(patched[ENTERPRISE]["manager"]["value"], json!(manager_id));
    assert_eq!(patched[ENTERPRISE]["department"], "Engineering");
    // The new address is an index lookup now; the old one finds nothing.
    for (address, n) in [
        ("new@contoso.example", 1),
        ("test_user_ab6490ee@contoso.example", 0),
    ] {
        let f = q(&format!("emails[value eq \"{address}\"]"));
        let r = entra
            .get(&format!("/Users?filter={f}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["totalResults"], n, "{address}");
    }
    let f = q(&format!("{ENTERPRISE}:department eq \"engineering\""));
    let r = entra
        .get(&format!("/Users?filter={f}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r["totalResults"], 1);
    // Path-less replace with dotted keys and a string boolean.
    let back = entra
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "value": {"active": "True", "name.familyName": "Family"}}]),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(back["active"], true);
    assert_eq!(back["name"]["familyName"], "Family");

    // Groups: created, found by displayName without members, members added and removed.
    let group = entra
        .post(
            "/Groups",
            // As Entra ID sends it: its own group schema listed beside the core one.
            json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                   "externalId": "g-8aa1", "displayName": "Group1DisplayName", "members": []}),
        )
        .await
        .expect(StatusCode::CREATED);
    let gid = group["id"].as_str().unwrap().to_string();
    let f = q("displayName eq \"group1displayname\"");
    let r = entra
        .get(&format!("/Groups?excludedAttributes=members&filter={f}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r["totalResults"], 1);
    assert!(r["Resources"][0].get("members").is_none());
    entra
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Add", "path": "members", "value": [{"value": id}, {"value": manager_id}]}]),
        )
        .await
        .expect(StatusCode::OK);
    let f = q(&format!("members.value eq \"{id}\""));
    let r = entra
        .get(&format!("/Groups?filter={f}&excludedAttributes=members"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r["totalResults"], 1);
    let after = entra
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Remove", "path": "members", "value": [{"value": id}]}]),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(after["members"].as_array().unwrap().len(), 1);
    assert_eq!(after["members"][0]["value"], json!(manager_id));
    // A member that does not exist is a 400 that Entra reports, never a 500 it would retry.
    let before = entra.snapshot().await;
    let detail = entra
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Add", "path": "members", "value": [{"value": "00000000-0000-0000-0000-000000000000"}]}]),
        )
        .await
        .error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(
        detail.contains("not a user of this organization"),
        "{detail}"
    );
    assert_eq!(entra.snapshot().await, before);
    let kinds_seen = kinds(&events(&server, "contoso", 0).await);
    assert!(kinds_seen.contains(&"group.member.removed".to_string()));
    assert!(kinds_seen.contains(&"user.deactivated".to_string()));
    assert!(kinds_seen.contains(&"user.reactivated".to_string()));
}
both_backends!(entra_provisioning_sequence_works, entra_sequence);

/// One organization's token never reaches another's data; bad input is a SCIM error that
/// changes nothing.
async fn isolation_and_bad_input(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    server.create_org("globex").await;
    let acme = Scim::new(&server, "acme").await;
    let globex = Scim::new(&server, "globex").await;
    let theirs = globex
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "secret@globex.example"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let their_id = theirs["id"].as_str().unwrap();
    let their_group = globex
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Globex Staff"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let their_gid = their_group["id"].as_str().unwrap();
    let ours = acme
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ada@acme.example"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let our_id = ours["id"].as_str().unwrap().to_string();
    let our_group = acme
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Acme Staff"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let our_gid = our_group["id"].as_str().unwrap().to_string();
    let before_theirs = globex.snapshot().await;

    for (path, body) in [
        (format!("/Users/{their_id}"), json!({"userName": "x"})),
        (format!("/Groups/{their_gid}"), json!({"displayName": "x"})),
    ] {
        acme.get(&path).await.error(StatusCode::NOT_FOUND, None);
        acme.put(&path, body)
            .await
            .error(StatusCode::NOT_FOUND, None);
        acme.patch(
            &path,
            json!([{"op": "replace", "path": "displayName", "value": "x"}]),
        )
        .await
        .error(StatusCode::NOT_FOUND, None);
        acme.delete(&path).await.error(StatusCode::NOT_FOUND, None);
    }
    for filter in [
        "userName eq \"secret@globex.example\"".to_string(),
        format!("id eq \"{their_id}\""),
        "userName pr".to_string(),
    ] {
        let r = acme
            .get(&format!("/Users?filter={}", q(&filter)))
            .await
            .expect(StatusCode::OK);
        let ids: Vec<&Value> = r["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| &u["id"])
            .collect();
        assert!(!ids.contains(&&json!(their_id)), "{filter}");
    }
    // Their user cannot join our group, and ours cannot join theirs.
    acme.patch(
        &format!("/Groups/{our_gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": their_id}]}]),
    )
    .await
    .error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(globex.snapshot().await, before_theirs);

    let before = acme.snapshot().await;
    let user_path = format!("/Users/{our_id}");
    // Malformed JSON, wrong shapes, wrong types.
    let raw = acme
        .server
        .client
        .post(server.url("/scim/v2/Users"))
        .header("authorization", &acme.auth)
        .header("content-type", "application/scim+json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");
    let bad_bodies = [
        (json!([1, 2]), "invalidSyntax"),
        (json!({"userName": ""}), "invalidValue"),
        (json!({"userName": 5}), "invalidValue"),
        (json!({"userName": "x", "emails": "nope@x"}), "invalidValue"),
        (
            json!({"userName": "x", "active": "perhaps"}),
            "invalidValue",
        ),
        (json!({"userName": "x", "shoeSize": 44}), "invalidValue"),
        (
            json!({"userName": "x", "schemas": ["urn:evil"]}),
            "invalidValue",
        ),
        (json!({"userName": "x\u{0}y"}), "invalidValue"),
        (json!({"userName": "x", "title": "\u{0}"}), "invalidValue"),
        (json!({"userName": "x", "aaa\u{e9}": "1"}), "invalidValue"),
        (json!({"userName": " padded"}), "invalidValue"),
        (
            json!({"userName": "x", "emails": (0..200).map(|i| json!({"value": format!("{i}@x")})).collect::<Vec<_>>()}),
            "invalidValue",
        ),
    ];
    for (body, scim_type) in bad_bodies {
        let r = acme.post("/Users", body.clone()).await;
        if r.status == StatusCode::CREATED {
            // A NUL stores on SQLite; what matters is that PostgreSQL's refusal is a 400.
            assert_eq!(body["userName"], "x\u{0}y");
            acme.delete(&format!("/Users/{}", r.body["id"].as_str().unwrap()))
                .await
                .expect(StatusCode::NO_CONTENT);
            continue;
        }
        r.error(StatusCode::BAD_REQUEST, Some(scim_type));
    }
    // Bad and injection-shaped filters.
    for (filter, status) in [
        ("userName eq", Some("invalidFilter")),
        ("userName xx \"a\"", Some("invalidFilter")),
        ("(userName eq \"a\"", Some("invalidFilter")),
        ("userName eq \"a\") or (1 eq 1", Some("invalidFilter")),
        ("shoeSize gt 3", Some("invalidFilter")),
        ("emails[type eq \"work\"", Some("invalidFilter")),
        ("userName eq \"x' OR '1'='1\"", None),
        ("userName eq \"x\\\" OR 1=1 --\"", None),
        ("userName eq \"%\"", None),
        ("userName co \"_\"", None),
    ] {
        let r = acme.get(&format!("/Users?filter={}", q(filter))).await;
        match status {
            Some(t) => {
                r.error(StatusCode::BAD_REQUEST, Some(t));
            }
            None => {
                let body = r.expect(StatusCode::OK);
                assert_eq!(body["totalResults"], 0, "{filter}: {body}");
            }
        }
    }
    let long = format!("title co \"{}\"", "a".repeat(300));
    acme.get(&format!("/Users?filter={}", q(&long)))
        .await
        .error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    let many = vec!["userName"; 100].join(",");
    acme.get(&format!("/Users?attributes={many}"))
        .await
        .error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(40), ")".repeat(40));
    acme.get(&format!("/Users?filter={}", q(&deep)))
        .await
        .error(StatusCode::BAD_REQUEST, None);
    // Invalid PATCH paths and operations.
    for ops in [
        json!([{"op": "replace", "path": "shoeSize", "value": 1}]),
        json!([{"op": "replace", "path": "emails[type eq", "value": 1}]),
        json!([{"op": "frobnicate", "path": "displayName", "value": 1}]),
        json!([{"op": "replace", "path": "id", "value": "mine"}]),
        json!([{"op": "remove", "path": "userName"}]),
        json!([]),
    ] {
        let r = acme.patch(&user_path, ops.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ops}: {}", r.body);
        assert!(r.body["scimType"].is_string(), "{ops}: {}", r.body);
    }
    acme.send(
        Method::PATCH,
        &user_path,
        Some(json!({"Operations": []})),
        &[],
    )
    .await
    .error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    // Paging: a huge count is capped, a negative startIndex is 1, a non-number is refused.
    let r = acme
        .get("/Users?count=100000000000&startIndex=-5")
        .await
        .expect(StatusCode::OK);
    assert_eq!(r["startIndex"], 1);
    assert_eq!(r["itemsPerPage"], 1);
    acme.get("/Users?count=ten")
        .await
        .error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    acme.get("/Users?sortOrder=sideways")
        .await
        .error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    acme.get("/Users?sortBy=shoeSize")
        .await
        .error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    // A client that writes its whole 5 MB body before reading (as Python's clients do) reads
    // the 413 rather than a broken pipe: the server reads the body through first.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = vec![b'x'; 5 * 1024 * 1024];
        let address = server.base.trim_start_matches("http://");
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST /scim/v2/Users HTTP/1.1\r\nhost: {address}\r\nauthorization: {}\r\n\
             content-type: application/scim+json\r\ncontent-length: {}\r\n\r\n",
            acme.auth,
            body.len()
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        socket
            .write_all(&body)
            .await
            .expect("the whole body is taken, not cut off");
        let mut answer = vec![0u8; 4096];
        let n = socket.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("max-body-bytes"), "{answer}");
    }
    // An oversized body is a SCIM 413.
    let huge = json!({"userName": "big", "displayName": "x".repeat(2 * 1024 * 1024)});
    let r = reqwest::Client::new()
        .post(server.url("/scim/v2/Users"))
        .header("authorization", &acme.auth)
        .header("content-type", "application/scim+json")
        .body(serde_json::to_vec(&huge).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["schemas"], json!([ERROR]));
    assert_eq!(body["status"], "413");
    // Wrong media type.
    let r = acme
        .server
        .client
        .post(server.url("/scim/v2/Users"))
        .header("authorization", &acme.auth)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Unknown endpoints and methods.
    acme.get("/Widgets")
        .await
        .error(StatusCode::NOT_FOUND, None);
    acme.delete("/Schemas")
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, None);
    acme.get("/Me")
        .await
        .error(StatusCode::NOT_IMPLEMENTED, None);
    assert_eq!(acme.snapshot().await, before);
    assert_eq!(globex.snapshot().await, before_theirs);
}
both_backends!(
    tenants_are_isolated_and_bad_input_changes_nothing,
    isolation_and_bad_input
);

/// ETags, Bulk, discovery, and concurrent membership PATCHes over HTTP.
async fn etags_bulk_discovery(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let scim = Scim::new(&server, "acme").await;

    let created = scim
        .post("/Users", json!({"schemas": [USER], "userName": "ada"}))
        .await;
    let etag = created.headers["etag"].to_str().unwrap().to_string();
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let not_modified = scim
        .send(Method::GET, &path, None, &[("if-none-match", &etag)])
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    let ok = scim
        .send(
            Method::PATCH,
            &path,
            Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "Countess"}]})),
            &[("if-match", &etag)],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(ok["meta"]["version"], "W/\"2\"");
    scim.send(
        Method::PUT,
        &path,
        Some(json!({"schemas": [USER], "userName": "ada", "title": "stale"})),
        &[("if-match", &etag)],
    )
    .await
    .error(StatusCode::PRECONDITION_FAILED, None);
    scim.send(Method::DELETE, &path, None, &[("if-match", &etag)])
        .await
        .error(StatusCode::PRECONDITION_FAILED, None);
    let fresh = scim
        .send(Method::GET, &path, None, &[("if-none-match", &etag)])
        .await
        .expect(StatusCode::OK);
    assert_eq!(fresh["title"], "Countess");

    // Bulk: a user and a group that refers to it by bulkId; errors counted to failOnErrors.
    let bulk = scim
        .post(
            "/Bulk",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "failOnErrors": 2,
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "u1",
                     "data": {"schemas": [USER], "userName": "grace"}},
                    {"method": "POST", "path": "/Groups", "bulkId": "g1",
                     "data": {"schemas": [GROUP], "displayName": "Admirals", "members": [{"value": "bulkId:u1"}]}},
                    {"method": "PATCH", "path": "/Users/bulkId:u1",
                     "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Rear Admiral"}]}},
                    {"method": "POST", "path": "/Users", "bulkId": "dup",
                     "data": {"schemas": [USER], "userName": "GRACE"}},
                    {"method": "DELETE", "path": "/Users/no-such-id"},
                    {"method": "POST", "path": "/Users", "bulkId": "never",
                     "data": {"schemas": [USER], "userName": "never-created"}}
                ]
            }),
        )
        .await
        .expect(StatusCode::OK);
    let ops = bulk["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "200", "409", "404"]);
    assert_eq!(ops[3]["response"]["scimType"], "uniqueness");
    let gid = ops[1]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let group = scim
        .get(&format!("/Groups/{gid}"))
        .await
        .expect(StatusCode::OK);
    let grace_id = ops[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert_eq!(group["members"][0]["value"], json!(grace_id));
    let f = q("userName eq \"never-created\"");
    let none = scim
        .get(&format!("/Users?filter={f}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(none["totalResults"], 0);

    // Concurrent membership PATCHes on one group lose no member.
    let mut ids = Vec::new();
    for i in 0..12 {
        let u = scim
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": format!("member{i}")}),
            )
            .await
            .expect(StatusCode::CREATED);
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let gpath = format!("/Groups/{gid}");
    let adds = ids.iter().map(|m| {
        scim.patch(
            &gpath,
            json!([{"op": "add", "path": "members", "value": [{"value": m}]}]),
        )
    });
    for r in futures_join(adds).await {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let group = scim.get(&gpath).await.expect(StatusCode::OK);
    assert_eq!(group["members"].as_array().unwrap().len(), 13);

    // Discovery.
    let config = scim
        .get("/ServiceProviderConfig")
        .await
        .expect(StatusCode::OK);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["bulk"]["maxOperations"], 1000);
    assert_eq!(config["filter"]["maxResults"], 1000);
    let types = scim.get("/ResourceTypes").await.expect(StatusCode::OK);
    assert_eq!(types["totalResults"], 2);
    let user_type = scim.get("/ResourceTypes/User").await.expect(StatusCode::OK);
    assert_eq!(user_type["schemaExtensions"][0]["schema"], ENTERPRISE);
    let schemas = scim.get("/Schemas").await.expect(StatusCode::OK);
    assert_eq!(schemas["totalResults"], 3);
    let ent = scim
        .get(&format!("/Schemas/{ENTERPRISE}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(ent["id"], ENTERPRISE);
    scim.get("/Schemas/urn:nope")
        .await
        .error(StatusCode::NOT_FOUND, None);
    // Root search spans both types.
    let all = scim
        .post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "displayName eq \"Admirals\"", "attributes": ["displayName"]}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(all["totalResults"], 1);
    assert_eq!(all["Resources"][0]["displayName"], "Admirals");
    let users = scim
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "userName sw \"member\"", "sortBy": "userName", "sortOrder": "descending",
                   "startIndex": 2, "count": 3}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(users["totalResults"], 12);
    let names: Vec<&str> = users["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["member8", "member7", "member6"]);
}
both_backends!(etags_bulk_and_discovery_work, etags_bulk_discovery);

type Slot<F> = (
    std::pin::Pin<Box<F>>,
    Option<<F as std::future::Future>::Output>,
);

/// Runs futures concurrently on the current task (a join without a futures crate).
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut slots: Vec<Slot<F>> = futures.map(|f| (Box::pin(f), None)).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, out) in slots.iter_mut() {
            if out.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots
        .into_iter()
        .map(|(_, out)| out.expect("finished"))
        .collect()
}

/// Missing, wrong, revoked and expired tokens are SCIM 401s; the rate limit answers 429.
async fn credentials(db: TestDb) {
    let mut server = Server::start(&db).await;
    server.create_org("acme").await;
    let scim = Scim::new(&server, "acme").await;
    scim.get("/Users").await.expect(StatusCode::OK);
    for auth in [
        None,
        Some("Bearer lyt_wrong"),
        Some("Basic Zm9vOmJhcg=="),
        Some("Bearer "),
    ] {
        let mut req = server.client.get(server.url("/scim/v2/Users"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["schemas"], json!([ERROR]));
    }
    // Revocation takes effect on the next request.
    let (_, tokens) = server
        .op(Method::GET, "/api/v1/orgs/acme/scim-tokens", None)
        .await;
    let token_id = tokens["items"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = server
        .op(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/scim-tokens/{token_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let detail = scim
        .get("/Users")
        .await
        .error(StatusCode::UNAUTHORIZED, None);
    assert!(detail.contains("revoked"), "{detail}");
    // Expiry.
    let soon = lanyard_store::rfc3339(lanyard_store::now_ms() + 1500);
    let (s, short) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/scim-tokens",
            Some(json!({"name": "short", "expires_at": soon})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{short}");
    let short = Scim {
        server: &server,
        auth: format!("Bearer {}", short["token"].as_str().unwrap()),
    };
    short.get("/Users").await.expect(StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    let detail = short
        .get("/Users")
        .await
        .error(StatusCode::UNAUTHORIZED, None);
    assert!(detail.contains("expired"), "{detail}");

    // A low limit: a burst of twice the rate, then 429 with Retry-After.
    server.kill();
    let limited = Server::spawn(
        server.data_dir.clone(),
        server.database_url.clone(),
        server.operator_key.clone(),
        &[("LANYARD_SCIM_RATE_LIMIT", "2")],
    );
    let scim = Scim::new(&limited, "acme").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = scim.get("/ServiceProviderConfig").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=2).contains(&wait), "{wait}");
            r.error(StatusCode::TOO_MANY_REQUESTS, None);
            statuses.push(429);
        } else {
            statuses.push(r.status.as_u16());
        }
    }
    assert_eq!(statuses[..4], [200, 200, 200, 200]);
    assert!(statuses[4..].contains(&429), "{statuses:?}");
    // Each Bulk operation spends the budget too.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let ops: Vec<Value> = (0..8)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                        "data": {"schemas": [USER], "userName": format!("bulk{i}")}})
        })
        .collect();
    let bulk = scim
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}),
        )
        .await
        .expect(StatusCode::OK);
    let statuses: Vec<&str> = bulk["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"429"), "{statuses:?}");
    assert_eq!(statuses[0], "201");
    // Another credential has its own budget.
    let other = Scim::new(&limited, "acme").await;
    other
        .get("/ServiceProviderConfig")
        .await
        .expect(StatusCode::OK);
}
both_backends!(credentials_are_checked_and_rate_limited, credentials);

/// Without the default provisioning role, creation fails with a SCIM error that says so.
async fn missing_default_role(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let scim = Scim::new(&server, "acme").await;
    let (_, roles) = server
        .op(Method::GET, "/api/v1/orgs/acme/roles", None)
        .await;
    let agent = roles["items"]
        .as_array()
        .or(roles["items"].as_array())
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Agent")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = server
        .op(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/roles/{agent}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let detail = scim
        .post("/Users", json!({"schemas": [USER], "userName": "ada"}))
        .await
        .error(StatusCode::BAD_REQUEST, None);
    assert!(detail.contains("\"Agent\""), "{detail}");
    let list = scim.get("/Users").await.expect(StatusCode::OK);
    assert_eq!(list["totalResults"], 0);
}
both_backends!(missing_default_role_is_a_clear_error, missing_default_role);

/// An organization defines its own extension schema; its attributes are accepted, filtered,
/// sorted, patched and published like built-in ones, and another organization never sees it.
async fn custom_extensions(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    server.create_org("globex").await;
    let urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    let definition = json!({
        "id": urn,
        "name": "AcmeUser",
        "description": "Acme's own profile fields",
        "attributes": [
            {"name": "costCode", "type": "string", "description": "Finance cost code", "claim": "cost_code"},
            {"name": "badgeNumber", "type": "integer"},
            {"name": "remote", "type": "boolean"},
            {"name": "skills", "type": "string", "multiValued": true}
        ]
    });
    let path = format!("/api/v1/orgs/acme/scim-extensions/{urn}");
    let (s, body) = server
        .op(Method::PUT, &path, Some(definition.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, _) = server
        .op(Method::PUT, &path, Some(definition.clone()))
        .await;
    assert_eq!(s, StatusCode::OK);
    // Unsafe or inconsistent definitions are refused.
    for (bad, status) in [
        (
            json!({"id": "urn:x'y", "attributes": [{"name": "a"}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"id": urn, "attributes": [{"name": "a\"b"}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"id": urn, "attributes": [{"name": "costCode", "type": "integer"}]}),
            StatusCode::CONFLICT,
        ),
    ] {
        let target = format!(
            "/api/v1/orgs/acme/scim-extensions/{}",
            bad["id"].as_str().unwrap().replace('\'', "%27")
        );
        let (s, body) = server.op(Method::PUT, &target, Some(bad.clone())).await;
        assert_eq!(s, status, "{bad}: {body}");
    }
    let acme = Scim::new(&server, "acme").await;
    let globex = Scim::new(&server, "globex").await;

    let schemas = acme.get("/Schemas").await.expect(StatusCode::OK);
    assert_eq!(schemas["totalResults"], 4);
    let own = acme
        .get(&format!("/Schemas/{urn}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(own["attributes"][0]["name"], "costCode");
    assert_eq!(own["attributes"][0]["description"], "Finance cost code");
    let user_type = acme.get("/ResourceTypes/User").await.expect(StatusCode::OK);
    assert_eq!(user_type["schemaExtensions"][1]["schema"], urn);
    globex
        .get(&format!("/Schemas/{urn}"))
        .await
        .error(StatusCode::NOT_FOUND, None);

    let mut ids = Vec::new();
    for (name, code, badge) in [
        ("ada", "CC-7", 7),
        ("grace", "CC-1", 12),
        ("linus", "cc-7", 3),
    ] {
        let created = acme
            .post(
                "/Users",
                json!({"schemas": [USER, urn], "userName": name,
                       urn: {"costCode": code, "badgeNumber": badge, "remote": "True", "skills": ["rust", "sql"]}}),
            )
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(created[urn]["remote"], true);
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    // Another organization's token cannot write them.
    globex
        .post(
            "/Users",
            json!({"schemas": [USER, urn], "userName": "x", urn: {"costCode": "1"}}),
        )
        .await
        .error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    // Filters and sorting.
    let f = q(&format!("{urn}:costCode eq \"cc-7\""));
    let r = acme
        .get(&format!("/Users?filter={f}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r["totalResults"], 2);
    let f = q(&format!(
        "{urn}:badgeNumber gt 5 and {urn}:skills eq \"SQL\""
    ));
    let r = acme
        .get(&format!(
            "/Users?filter={f}&sortBy={urn}:badgeNumber&sortOrder=descending"
        ))
        .await
        .expect(StatusCode::OK);
    let names: Vec<&str> = r["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["grace", "ada"]);
    // PATCH, with and without paths.
    let patched = acme
        .patch(
            &format!("/Users/{}", ids[0]),
            json!([
                {"op": "Replace", "path": format!("{urn}:costCode"), "value": "CC-9"},
                {"op": "Add", "path": format!("{urn}:skills"), "value": ["go"]},
                {"op": "replace", "value": {urn: {"remote": false}}}
            ]),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched[urn]["costCode"], "CC-9");
    assert_eq!(patched[urn]["skills"], json!(["rust", "sql", "go"]));
    assert_eq!(patched[urn]["remote"], false);
    acme.patch(
        &format!("/Users/{}", ids[0]),
        json!([{"op": "replace", "path": format!("{urn}:badgeNumber"), "value": "seven"}]),
    )
    .await
    .error(StatusCode::BAD_REQUEST, Some("invalidValue"));

    // Deleting the definition hides the values; users stay readable and writable.
    let (s, _) = server.op(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let after = acme
        .get(&format!("/Users/{}", ids[0]))
        .await
        .expect(StatusCode::OK);
    assert!(after.get(urn).is_none(), "{after}");
    assert!(!after["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == urn));
    acme.patch(
        &format!("/Users/{}", ids[0]),
        json!([{"op": "replace", "path": "title", "value": "Countess"}]),
    )
    .await
    .expect(StatusCode::OK);
    let f = q(&format!("{urn}:costCode eq \"cc-7\""));
    acme.get(&format!("/Users?filter={f}"))
        .await
        .error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
}
both_backends!(organizations_define_their_own_extensions, custom_extensions);

/// Extension attributes that name a claim show in a provisioned user's ID-token claims beside
/// the built-in ones; a claim is given by one attribute only; deactivation by the IdP stops
/// sign-in and reactivation restores it; another organization cannot look.
async fn claims_preview(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    server.create_org("globex").await;
    let urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    let (s, body) = server
        .op(
            Method::PUT,
            &format!("/api/v1/orgs/acme/scim-extensions/{urn}"),
            Some(json!({"id": urn, "attributes": [
                {"name": "costCode", "claim": "cost_code"},
                {"name": "badge", "type": "integer"}
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let other = "urn:acme:finance";
    let (s, body) = server
        .op(
            Method::PUT,
            &format!("/api/v1/orgs/acme/scim-extensions/{other}"),
            Some(json!({"id": other, "attributes": [{"name": "center", "claim": "cost_code"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("cost_code"), "{body}");
    // Nor in another letter case, and no built-in claim in any.
    for (claim, status) in [
        ("COST_CODE", StatusCode::CONFLICT),
        ("SUB", StatusCode::BAD_REQUEST),
        ("Org", StatusCode::BAD_REQUEST),
    ] {
        let (s, body) = server
            .op(
                Method::PUT,
                &format!("/api/v1/orgs/acme/scim-extensions/{other}"),
                Some(json!({"id": other, "attributes": [{"name": "center", "claim": claim}]})),
            )
            .await;
        assert_eq!(s, status, "{claim}: {body}");
    }

    // Definitions made at once cannot both take a claim: each is checked against the others
    // inside its own write.
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let other = format!("urn:acme:race{i}");
            let body = json!({"id": other, "attributes": [{"name": "unit", "claim": "unit"}]});
            let request = server
                .client
                .put(server.url(&format!("/api/v1/orgs/acme/scim-extensions/{other}")))
                .header("authorization", format!("Bearer {}", server.operator_key))
                .json(&body);
            tokio::spawn(async move { request.send().await.expect("request").status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.expect("task"));
    }
    let made = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(made, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );

    let acme = Scim::new(&server, "acme").await;
    let user = acme
        .post(
            "/Users",
            json!({"schemas": [USER, urn], "userName": "ada@acme.test", "displayName": "Ada L.",
                   "emails": [{"value": "ada@acme.test", "primary": true}],
                   urn: {"costCode": "CC-7", "badge": 7}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = user["id"].as_str().unwrap().to_string();
    acme.post(
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": id}]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let path = format!("/api/v1/orgs/acme/users/{id}/claims");
    let (s, preview) = server.op(Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["can_sign_in"], true);
    assert_eq!(
        preview["claims"],
        json!({"sub": id, "email": "ada@acme.test", "name": "Ada L.", "org": "acme",
               "roles": ["Agent"], "groups": ["Engineering"], "cost_code": "CC-7"})
    );

    // Entra ID deactivates with a capitalised op and a string boolean; Okta reactivates.
    acme.patch(
        &format!("/Users/{id}"),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await
    .expect(StatusCode::OK);
    let (_, preview) = server.op(Method::GET, &path, None).await;
    assert_eq!(preview["can_sign_in"], false, "{preview}");
    assert!(preview["reason"].as_str().unwrap().contains("deactivated"));
    acme.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await
    .expect(StatusCode::OK);
    let (_, preview) = server.op(Method::GET, &path, None).await;
    assert_eq!(preview["can_sign_in"], true, "{preview}");

    let (s, _) = server
        .op(
            Method::GET,
            &format!("/api/v1/orgs/globex/users/{id}/claims"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // An organization's own key with employees.view may look; one without may not; another
    // organization's key sees nothing, whichever organization it names.
    let viewer = server.access_key_with("acme", &["employees.view"]).await;
    let (s, body) = server.call(Method::GET, &path, Some(&viewer), None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["claims"]["cost_code"], "CC-7");
    let tokens_only = server.access_key_with("acme", &["tokens.manage"]).await;
    let (s, _) = server
        .call(Method::GET, &path, Some(&tokens_only), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let outsider = server.access_key_with("globex", &["employees.view"]).await;
    for target in [
        path.clone(),
        format!("/api/v1/orgs/globex/users/{id}/claims"),
    ] {
        let (s, _) = server
            .call(Method::GET, &target, Some(&outsider), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{target}");
    }
}
both_backends!(extension_claims_and_sign_in_in_the_preview, claims_preview);

/// A reader following the events cursor while writers commit side by side sees every event
/// (180 creates: within one token's burst allowance):
/// none commits behind the cursor (on PostgreSQL, sequence numbers are taken in commit order).
async fn events_cursor_under_concurrent_writes(db: TestDb) {
    let server = Server::start(&db).await;
    server.create_org("acme").await;
    let scim = Scim::new(&server, "acme").await;
    let url = server.url("/scim/v2/Users");
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (client, url, auth) = (server.client.clone(), url.clone(), scim.auth.clone());
            tokio::spawn(async move {
                for n in 0..30 {
                    let body = json!({"schemas": [USER], "userName": format!("w{w}-{n}")});
                    let resp = client
                        .post(&url)
                        .header("authorization", &auth)
                        .header("content-type", "application/scim+json")
                        .body(body.to_string())
                        .send()
                        .await
                        .expect("request");
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    assert_eq!(status, StatusCode::CREATED, "{body}");
                }
            })
        })
        .collect();
    // A page of events after `after`: their `seq`s, and the cursor for the next page.
    let read = |after: i64| {
        let server = &server;
        async move {
            let items = events(server, "acme", after).await;
            let seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
            let next = seqs.last().copied().unwrap_or(after);
            (seqs, next)
        }
    };
    let (mut followed, mut cursor, mut reads) = (Vec::new(), 0, 0);
    loop {
        // Writers answer after their commit: a read that starts after the last answer and
        // finds nothing new has seen everything.
        let writing = !writers.iter().all(|w| w.is_finished());
        let (seqs, next) = read(cursor).await;
        let done = !writing && seqs.is_empty();
        followed.extend(seqs);
        (cursor, reads) = (next, reads + 1);
        if done {
            break;
        }
    }
    for w in writers {
        w.await.expect("writer");
    }
    let (mut all, mut after) = (Vec::new(), 0);
    loop {
        let (seqs, next) = read(after).await;
        if seqs.is_empty() {
            break;
        }
        all.extend(seqs);
        after = next;
    }
    assert_eq!(all.len(), 180, "one event per create");
    assert!(reads > 1, "the reader ran beside the writers");
    assert_eq!(
        followed, all,
        "the cursor reader missed or reordered events"
    );
}
both_backends!(
    an_events_reader_misses_nothing_under_concurrent_writes,
    events_cursor_under_concurrent_writes
);

/// Killed mid-burst (SIGKILL), the server loses no acknowledged SCIM change, and every one has
/// its event: the outbox row commits with the change.
async fn crash_keeps_changes_and_events(db: TestDb) {
    let mut server = Server::start(&db).await;
    server.create_org("acme").await;
    let auth = Scim::new(&server, "acme").await.auth;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let url = server.url("/scim/v2/Users");
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (url, auth, acked, client) = (
            url.clone(),
            auth.clone(),
            acknowledged.clone(),
            server.client.clone(),
        );
        workers.push(tokio::spawn(async move {
            for n in 0..10_000 {
                let body = json!({"schemas": [USER], "userName": format!("w{worker}-{n}")});
                let sent = client
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status() == StatusCode::CREATED => {
                        let user: Value = match resp.json().await {
                            Ok(v) => v,
                            Err(_) => return,
                        };
                        acked
                            .lock()
                            .unwrap()
                            .push(user["id"].as_str().unwrap().to_string());
                    }
                    Ok(resp) => panic!("unexpected {} during the burst", resp.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 60 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill();
    for w in workers {
        w.await.expect("worker");
    }
    let acked = acknowledged.lock().unwrap().clone();
    server.restart();
    let scim = Scim::new(&server, "acme").await;
    let mut created = std::collections::BTreeSet::new();
    let mut after = 0;
    loop {
        let (_, page) = server
            .op(
                Method::GET,
                &format!("/api/v1/orgs/acme/events?after={after}&limit=1000"),
                None,
            )
            .await;
        let items = page["items"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        for e in items {
            assert_eq!(e["kind"], "user.created");
            created.insert(e["resource_id"].as_str().unwrap().to_string());
        }
        after = page["next"].as_i64().unwrap();
    }
    for id in &acked {
        scim.get(&format!("/Users/{id}"))
            .await
            .expect(StatusCode::OK);
        assert!(created.contains(id), "user {id} has no user.created event");
    }
    // And no event for a change that did not commit.
    let list = scim.get("/Users?count=1").await.expect(StatusCode::OK);
    assert_eq!(
        list["totalResults"].as_u64().unwrap() as usize,
        created.len()
    );
}
both_backends!(
    acknowledged_changes_and_their_events_survive_sigkill,
    crash_keeps_changes_and_events
);
