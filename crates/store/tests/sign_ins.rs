//! Completing a sign-in is one transaction: a refusal found after the request was spent undoes
//! the spending, except for an inactive user, whose request and assertion stay spent.

use lanyard_store::testing::TestDb;
use lanyard_store::*;

fn audit(action: &str) -> AuditEvent {
    AuditEvent::success("test", action)
}

struct Fixture {
    store: Store,
    org_id: String,
    user_id: String,
    request: LoginRequest,
}

async fn fixture(db: &TestDb) -> Fixture {
    let store = Store::open(&db.url).await.unwrap();
    let org = store
        .create_org(
            &NewOrganization {
                short_name: "acme".into(),
                display_name: "Acme".into(),
                business_unit_id: None,
                domains: vec![],
                settings: OrgSettings::default(),
                default_roles: vec![],
            },
            &audit("org.create"),
        )
        .await
        .unwrap();
    let user = store
        .create_user(
            &org.id,
            &NewUser {
                user_name: "ada@acme.example".into(),
                email: None,
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
    let now = now_ms();
    let connection = SsoConnection {
        id: "conn-1".into(),
        org_id: org.id.clone(),
        name: "Okta".into(),
        kind: "okta".into(),
        idp_entity_id: "http://idp.example".into(),
        sso_url: "https://idp.example/sso".into(),
        certificates: vec!["CERT".into()],
        sp_entity_id: "http://sp.example/saml/conn-1".into(),
        endpoint_compression: false,
        allow_idp_initiated: false,
        enabled: true,
        logo_svg: None,
        shared_audience: false,
        attribute_mapping: Default::default(),
        clock_skew_seconds: 180,
        sign_requests: false,
        require_encrypted_assertions: false,
        content_encryption: "aes256-gcm".into(),
        created_at: now,
        updated_at: now,
    };
    store
        .create_sso_connection(&connection, &audit("sso.create"))
        .await
        .unwrap();
    let client = OAuthClient {
        id: "client-1".into(),
        org_id: org.id.clone(),
        name: "App".into(),
        description: String::new(),
        contacts: vec![],
        kind: "app".into(),
        client_type: "public".into(),
        token_endpoint_auth_method: "none".into(),
        scopes: vec!["openid".into()],
        fedramp: false,
        redirect_uris: vec!["https://app.example/cb".into()],
        initiate_login_uri: None,
        created_at: now,
        revoked_at: None,
        service_user_id: None,
    };
    store
        .create_oauth_client(&client, None, &audit("client.create"))
        .await
        .unwrap();
    let request = LoginRequest {
        id: "request-1".into(),
        org_id: org.id.clone(),
        connection_id: connection.id.clone(),
        client_id: client.id.clone(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid".into(),
        state: None,
        nonce: None,
        code_challenge: None,
        auth_not_before: None,
        created_at: now,
        expires_at: now + 300_000,
        form_nonce: "nonce-1".into(),
        consent_session: None,
    };
    Fixture {
        store,
        org_id: org.id,
        user_id: user.id,
        request,
    }
}

fn sign_in<'a>(f: &'a Fixture, assertion_id: &'a str, code_hash: &'a str) -> SignIn<'a> {
    SignIn {
        request: &f.request,
        code_hash: Some(code_hash),
        code_expires_at: now_ms() + 60_000,
        connection_id: "conn-1",
        idp_entity_id: "http://idp.example",
        certificates: &[],
        audience: "http://sp.example/saml/conn-1",
        assertion_id,
        assertion_expires_at: now_ms() + 300_000,
        session_hash: code_hash,
        session_expires_at: now_ms() + 3_600_000,
    }
}

async fn replay_leaves_the_request_unspent(db: TestDb) {
    let f = fixture(&db).await;
    let complete = |assertion, code| {
        let sign_in = sign_in(&f, assertion, code);
        let store = f.store.clone();
        let user_id = f.user_id.clone();
        async move { store.complete_sign_in(&user_id, now_ms(), &sign_in).await }
    };
    // An assertion spent by an earlier sign-in, under another request.
    let mut other = f.request.clone();
    other.id = "request-0".into();
    let earlier = SignIn {
        request: &other,
        ..sign_in(&f, "assertion-0", "code-0")
    };
    let first = f
        .store
        .complete_sign_in(&f.user_id, now_ms(), &earlier)
        .await;
    assert!(first.unwrap().is_ok());
    // Replaying it refuses this request, and the refusal spends nothing: the request is still
    // good for a fresh assertion.
    let replay = complete("assertion-0", "code-1").await.unwrap();
    assert_eq!(replay, Err(GrantRefusal::Invalid));
    let fresh = complete("assertion-1", "code-2").await.unwrap();
    assert!(fresh.is_ok(), "{fresh:?}");
    // Now it is spent.
    let again = complete("assertion-2", "code-3").await.unwrap();
    assert_eq!(again, Err(GrantRefusal::Invalid));
}
lanyard_store::both_backends!(
    replay_leaves_the_request_unspent_work,
    replay_leaves_the_request_unspent
);

async fn set_active(f: &Fixture, active: bool) {
    let patch = UserPatch {
        active: Some(active),
        ..Default::default()
    };
    f.store
        .update_user(&f.org_id, &f.user_id, &patch, None, &audit("user.update"))
        .await
        .unwrap();
}

async fn an_inactive_users_request_stays_spent(db: TestDb) {
    let f = fixture(&db).await;
    set_active(&f, false).await;
    let refused = f
        .store
        .complete_sign_in(&f.user_id, now_ms(), &sign_in(&f, "assertion-1", "code-1"))
        .await
        .unwrap();
    assert_eq!(refused, Err(GrantRefusal::UserInactive));
    set_active(&f, true).await;
    // Reactivated, the user still cannot use the request (or the assertion) again.
    let again = f
        .store
        .complete_sign_in(&f.user_id, now_ms(), &sign_in(&f, "assertion-2", "code-2"))
        .await
        .unwrap();
    assert_eq!(again, Err(GrantRefusal::Invalid));
}
lanyard_store::both_backends!(
    an_inactive_users_request_stays_spent_work,
    an_inactive_users_request_stays_spent
);

async fn a_code_comes_only_from_its_users_own_session(db: TestDb) {
    let f = fixture(&db).await;
    let session = f
        .store
        .complete_sign_in(&f.user_id, now_ms(), &sign_in(&f, "assertion-1", "code-1"))
        .await
        .unwrap()
        .expect("signed in");
    let other = f
        .store
        .create_user(
            &f.org_id,
            &NewUser {
                user_name: "eve@acme.example".into(),
                email: None,
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
    let code = |user_id: &str| AuthCode {
        org_id: f.org_id.clone(),
        client_id: f.request.client_id.clone(),
        user_id: user_id.to_string(),
        session_id: Some(session.id.clone()),
        redirect_uri: f.request.redirect_uri.clone(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: session.auth_time,
        expires_at: now_ms() + 60_000,
        grant_id: "grant-x".into(),
        connection_id: None,
    };
    let foreign = f
        .store
        .issue_code("code-eve", &code(&other.id))
        .await
        .unwrap();
    assert_eq!(foreign, Err(GrantRefusal::Invalid));
    let own = f
        .store
        .issue_code("code-ada", &code(&f.user_id))
        .await
        .unwrap();
    assert_eq!(own, Ok(()));
}
lanyard_store::both_backends!(
    a_code_comes_only_from_its_users_own_session_work,
    a_code_comes_only_from_its_users_own_session
);

/// A console session ends when idle too long, when its sign-in session ends (deactivation,
/// sign-out), or when its operator key is revoked; being read keeps it alive.
async fn console_sessions_end(db: TestDb) {
    let f = fixture(&db).await;
    let store = &f.store;
    let far = now_ms() + 3_600_000;
    let session = store
        .open_password_session(&f.org_id, &f.user_id, "sign-in-hash", far)
        .await
        .unwrap()
        .unwrap();
    let holder = ConsoleHolder::SignIn {
        session_id: &session.id,
    };
    store
        .open_console_session("console-hash", holder, "csrf", "ja", 3_600_000)
        .await
        .unwrap();
    let live = store.console_session("console-hash", 60_000).await.unwrap();
    let live = live.expect("a fresh session is live");
    assert_eq!(live.org_id.as_deref(), Some(f.org_id.as_str()));
    assert_eq!(live.user_id.as_deref(), Some(f.user_id.as_str()));
    assert_eq!((live.csrf.as_str(), live.locale.as_str()), ("csrf", "ja"));
    assert!(store
        .console_session("other-hash", 60_000)
        .await
        .unwrap()
        .is_none());
    // A sign-in session past its end (the IdP's SessionNotOnOrAfter) ends the console's too.
    let ended = store
        .open_password_session(&f.org_id, &f.user_id, "ended-hash", now_ms() - 1)
        .await
        .unwrap()
        .unwrap();
    let holder = ConsoleHolder::SignIn {
        session_id: &ended.id,
    };
    store
        .open_console_session("after-end-hash", holder, "csrf", "en", 3_600_000)
        .await
        .unwrap();
    let after_end = store
        .console_session("after-end-hash", 60_000)
        .await
        .unwrap();
    assert!(after_end.is_none());
    // Idle longer than the limit (here: any time at all) reads as ended.
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(store
        .console_session("console-hash", 1)
        .await
        .unwrap()
        .is_none());
    // Deactivation ends the sign-in session, and with it the console's.
    let patch = UserPatch {
        active: Some(false),
        ..Default::default()
    };
    store
        .update_user(&f.org_id, &f.user_id, &patch, None, &audit("user.update"))
        .await
        .unwrap();
    assert!(store
        .console_session("console-hash", 60_000)
        .await
        .unwrap()
        .is_none());

    // An operator's session lives as long as its key.
    let key = store
        .create_operator_key("op-1", "op-1-hash", &audit("operator_key.create"))
        .await
        .unwrap();
    let holder = ConsoleHolder::Operator { key_id: &key.id };
    let id = store
        .open_console_session("operator-hash", holder, "csrf", "en", 3_600_000)
        .await
        .unwrap();
    store.set_console_org(&id, &f.org_id).await.unwrap();
    let live = store
        .console_session("operator-hash", 60_000)
        .await
        .unwrap();
    assert_eq!(live.unwrap().org_id.as_deref(), Some(f.org_id.as_str()));
    store
        .revoke_operator_key(&key.id, &audit("operator_key.revoke"))
        .await
        .unwrap();
    assert!(store
        .console_session("operator-hash", 60_000)
        .await
        .unwrap()
        .is_none());
    // Past its absolute end it is gone whatever its use.
    let other = store
        .create_operator_key("op-2", "op-2-hash", &audit("operator_key.create"))
        .await
        .unwrap();
    let holder = ConsoleHolder::Operator { key_id: &other.id };
    store
        .open_console_session("long-hash", holder, "csrf", "en", 60_000)
        .await
        .unwrap();
    assert!(store
        .console_session("long-hash", 60_000)
        .await
        .unwrap()
        .is_some());
    let holder = ConsoleHolder::Operator { key_id: &other.id };
    store
        .open_console_session("short-hash", holder, "csrf", "en", 0)
        .await
        .unwrap();
    assert!(store
        .console_session("short-hash", 60_000)
        .await
        .unwrap()
        .is_none());
}
lanyard_store::both_backends!(
    console_sessions_end_with_what_let_them_in,
    console_sessions_end
);
