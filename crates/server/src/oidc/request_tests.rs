use lanyard_store::OrgSettings;

use super::*;

const NOW: i64 = 1_700_000_000_000;
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const APP: &str = "https://app.example.com/callback";

fn client(confidential: bool) -> OAuthClient {
    let client_type = if confidential {
        "confidential"
    } else {
        "public"
    };
    OAuthClient {
        id: "client-1".into(),
        org_id: "org-1".into(),
        name: "App".into(),
        description: String::new(),
        contacts: vec![],
        kind: "app".into(),
        client_type: client_type.into(),
        token_endpoint_auth_method: "client_secret_basic".into(),
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        fedramp: false,
        redirect_uris: vec!["https://other.example.com/cb".into(), APP.into()],
        initiate_login_uri: None,
        created_at: 0,
        revoked_at: None,
        service_user_id: None,
    }
}

fn org() -> Organization {
    Organization {
        id: "org-1".into(),
        short_name: "acme".into(),
        display_name: "Acme".into(),
        business_unit_id: 1,
        domains: vec![],
        settings: OrgSettings::default(),
        created_at: 0,
        updated_at: 0,
    }
}

/// A request that passes every rule for a confidential client.
fn query() -> AuthorizeQuery {
    AuthorizeQuery {
        client_id: Some("client-1".into()),
        redirect_uri: Some(APP.into()),
        response_type: Some("code".into()),
        scope: Some("openid email".into()),
        state: Some("st".into()),
        nonce: Some("n-0".into()),
        ..AuthorizeQuery::default()
    }
}

fn validate(
    q: &AuthorizeQuery,
    client: &OAuthClient,
) -> Result<(bool, bool, Option<i64>, Option<i64>), Refusal> {
    let request = check(q, Some(client))?.in_org(&org(), NOW)?;
    Ok((
        request.prompt_none,
        request.force_login,
        request.max_age_ms,
        request.auth_not_before,
    ))
}

fn page(message: &'static str, detail: &str) -> Refusal {
    Refusal::Page {
        message,
        detail: detail.into(),
    }
}

fn redirect(error: &'static str, description: &'static str) -> Refusal {
    Refusal::Redirect {
        redirect_uri: APP.into(),
        state: Some("st".into()),
        error,
        description,
    }
}

fn refused_with(q: AuthorizeQuery, expected: Refusal) {
    assert_eq!(validate(&q, &client(true)).unwrap_err(), expected);
}

#[test]
fn a_valid_request_is_accepted_with_its_parameters() {
    let (q, c) = (query(), client(true));
    let request = check(&q, Some(&c)).unwrap().in_org(&org(), NOW).unwrap();
    assert_eq!(
        request,
        AuthorizationRequest {
            client: &c,
            redirect_uri: APP,
            redirect_index: 1,
            state: Some("st"),
            scope: "openid email",
            nonce: Some("n-0"),
            code_challenge: None,
            login_hint: None,
            prompt_none: false,
            force_login: false,
            max_age_ms: None,
            auth_not_before: None,
        }
    );
    assert_eq!(
        request.refuse("login_required", "the user is not signed in"),
        redirect("login_required", "the user is not signed in")
    );
}

#[test]
fn a_missing_client_id_is_an_error_page() {
    let q = AuthorizeQuery {
        client_id: None,
        ..query()
    };
    let missing = page("signin-no-client", "client_id missing");
    assert_eq!(client_to_look_up(&q).unwrap_err(), missing);
    assert_eq!(check(&q, Some(&client(true))).unwrap_err(), missing);
}

#[test]
fn an_unreadable_client_id_is_not_looked_up_and_names_no_client() {
    assert_eq!(client_to_look_up(&query()), Ok(Some("client-1")));
    for unreadable in ["client\0one".to_string(), "c".repeat(201)] {
        let q = AuthorizeQuery {
            client_id: Some(unreadable.clone()),
            ..query()
        };
        assert_eq!(client_to_look_up(&q), Ok(None));
        assert_eq!(
            check(&q, Some(&client(true))).unwrap_err(),
            page("signin-unknown-client", &unreadable)
        );
    }
}

#[test]
fn an_unknown_or_revoked_client_is_an_error_page() {
    let unknown = page("signin-unknown-client", "client-1");
    assert_eq!(check(&query(), None).unwrap_err(), unknown);
    let revoked = OAuthClient {
        revoked_at: Some(1),
        ..client(true)
    };
    assert_eq!(check(&query(), Some(&revoked)).unwrap_err(), unknown);
}

#[test]
fn a_backend_client_is_refused_in_the_code_flow_by_a_page() {
    let backend = OAuthClient {
        client_type: "backend".into(),
        redirect_uris: vec![],
        ..client(true)
    };
    let Refusal::Page { message, .. } = check(&query(), Some(&backend)).unwrap_err() else {
        panic!("a backend client has no redirect URI to return to");
    };
    assert_eq!(message, "signin-backend-client");
    let english = crate::i18n::Locale::En.text(message, &[]);
    assert!(english.starts_with("unauthorized_client:"), "{english}");
    assert!(english.contains("client credentials only"), "{english}");
}

#[test]
fn a_scope_beyond_the_clients_registration_is_invalid_scope() {
    let narrow = OAuthClient {
        scopes: vec!["openid".into()],
        ..client(true)
    };
    let refusal = check(&query(), Some(&narrow)).unwrap_err();
    assert_eq!(
        refusal,
        redirect(
            "invalid_scope",
            "the scope asks for more than the client is registered for"
        )
    );
    let just_openid = AuthorizeQuery {
        scope: Some("openid".into()),
        ..query()
    };
    assert!(check(&just_openid, Some(&narrow)).is_ok());
}

#[test]
fn an_unregistered_redirect_uri_is_an_error_page_never_a_redirect() {
    let message = "signin-bad-redirect";
    for (uri, detail) in [
        (
            Some("https://app.example.com/callback/"),
            "https://app.example.com/callback/",
        ),
        (
            Some("https://APP.example.com/callback"),
            "https://APP.example.com/callback",
        ),
        (None, "redirect_uri missing"),
    ] {
        let q = AuthorizeQuery {
            redirect_uri: uri.map(str::to_string),
            ..query()
        };
        assert_eq!(
            check(&q, Some(&client(true))).unwrap_err(),
            page(message, detail)
        );
    }
}

#[test]
fn request_objects_are_refused() {
    let by_value = AuthorizeQuery {
        request: Some("eyJ".into()),
        ..query()
    };
    let by_reference = AuthorizeQuery {
        request_uri: Some("urn:x".into()),
        ..query()
    };
    for q in [by_value, by_reference] {
        refused_with(
            q,
            redirect(
                "request_not_supported",
                "request objects are not supported; send the parameters in the query",
            ),
        );
    }
}

#[test]
fn only_the_query_response_mode_is_accepted() {
    let q = AuthorizeQuery {
        response_mode: Some("fragment".into()),
        ..query()
    };
    refused_with(
        q,
        redirect("invalid_request", "only response_mode=query is supported"),
    );
    let q = AuthorizeQuery {
        response_mode: Some("query".into()),
        ..query()
    };
    assert!(validate(&q, &client(true)).is_ok());
}

#[test]
fn only_the_code_response_type_is_accepted() {
    for response_type in [None, Some("token"), Some("code id_token")] {
        let q = AuthorizeQuery {
            response_type: response_type.map(str::to_string),
            ..query()
        };
        refused_with(
            q,
            redirect(
                "unsupported_response_type",
                "only the authorization code flow is supported: response_type=code",
            ),
        );
    }
}

#[test]
fn the_scope_must_include_openid() {
    for scope in [None, Some("email profile"), Some("openid_x")] {
        let q = AuthorizeQuery {
            scope: scope.map(str::to_string),
            ..query()
        };
        refused_with(
            q,
            redirect("invalid_scope", "the scope must include openid"),
        );
    }
}

#[test]
fn kept_parameters_are_limited_in_length_and_characters() {
    let limited = || {
        redirect(
            "invalid_request",
            "state, nonce, scope, organization and login_hint are limited to 512 characters without control characters",
        )
    };
    let long = "x".repeat(513);
    let nonce = AuthorizeQuery {
        nonce: Some(long.clone()),
        ..query()
    };
    refused_with(nonce, limited());
    let scope = AuthorizeQuery {
        scope: Some(format!("openid {long}")),
        ..query()
    };
    refused_with(scope, limited());
    let organization = AuthorizeQuery {
        organization: Some("ac\nme".into()),
        ..query()
    };
    refused_with(organization, limited());
    // The refusal carries the state back even when the state is what is refused.
    let state = AuthorizeQuery {
        state: Some("s\u{7f}".into()),
        ..query()
    };
    assert_eq!(
        validate(&state, &client(true)).unwrap_err(),
        Refusal::Redirect {
            redirect_uri: APP.into(),
            state: Some("s\u{7f}".into()),
            error: "invalid_request",
            description: "state, nonce, scope, organization and login_hint are limited to 512 characters without control characters",
        }
    );
    let longest = AuthorizeQuery {
        nonce: Some("x".repeat(512)),
        ..query()
    };
    assert!(validate(&longest, &client(true)).is_ok());
}

#[test]
fn pkce_is_s256_only_and_required_of_public_clients() {
    let pkce = |challenge: Option<&str>, method: Option<&str>| AuthorizeQuery {
        code_challenge: challenge.map(str::to_string),
        code_challenge_method: method.map(str::to_string),
        ..query()
    };
    let public = client(false);
    let q = pkce(Some(CHALLENGE), Some("S256"));
    let accepted = check(&q, Some(&public)).unwrap().in_org(&org(), NOW);
    assert_eq!(accepted.unwrap().code_challenge, Some(CHALLENGE));
    let cases = [
        (
            pkce(Some("too-short"), Some("S256")),
            "code_challenge must be 43 base64url characters (S256)",
        ),
        (
            pkce(Some(&CHALLENGE.replace('-', "+")), Some("S256")),
            "code_challenge must be 43 base64url characters (S256)",
        ),
        (
            pkce(Some(CHALLENGE), Some("plain")),
            "code_challenge_method must be S256 (plain is not accepted)",
        ),
        (
            pkce(Some(CHALLENGE), None),
            "code_challenge_method must be S256 (plain is not accepted)",
        ),
        (
            pkce(None, Some("S256")),
            "code_challenge_method without code_challenge",
        ),
        (
            pkce(None, None),
            "a public client must use PKCE (code_challenge with S256)",
        ),
    ];
    for (q, description) in cases {
        assert_eq!(
            validate(&q, &public).unwrap_err(),
            redirect("invalid_request", description)
        );
    }
    // A confidential client may go without.
    assert!(validate(&pkce(None, None), &client(true)).is_ok());
}

#[test]
fn the_organization_named_must_be_the_clients() {
    for named in ["acme", "ACME", "org-1"] {
        let q = AuthorizeQuery {
            organization: Some(named.into()),
            ..query()
        };
        assert!(validate(&q, &client(true)).is_ok(), "{named}");
    }
    let q = AuthorizeQuery {
        organization: Some("globex".into()),
        ..query()
    };
    refused_with(
        q,
        redirect(
            "invalid_request",
            "this client belongs to another organization than the one named",
        ),
    );
}

#[test]
fn max_age_is_whole_seconds_and_bounds_the_authentication_accepted() {
    let with_max_age = |max_age: &str| AuthorizeQuery {
        max_age: Some(max_age.into()),
        ..query()
    };
    assert_eq!(
        validate(&with_max_age("60"), &client(true)).unwrap(),
        (
            false,
            false,
            Some(60_000),
            Some(NOW - 60_000 - DEFAULT_CLOCK_SKEW_MS)
        )
    );
    for bad in ["-1", "1.5", "soon", "4294967296"] {
        refused_with(
            with_max_age(bad),
            redirect(
                "invalid_request",
                "max_age must be a whole number of seconds",
            ),
        );
    }
}

#[test]
fn prompt_login_forces_a_new_authentication() {
    let q = AuthorizeQuery {
        prompt: Some("login".into()),
        max_age: Some("60".into()),
        ..query()
    };
    assert_eq!(
        validate(&q, &client(true)).unwrap(),
        (false, true, Some(60_000), Some(NOW - DEFAULT_CLOCK_SKEW_MS))
    );
}

#[test]
fn prompt_none_stands_alone() {
    let prompt = |p: &str| AuthorizeQuery {
        prompt: Some(p.into()),
        ..query()
    };
    assert_eq!(
        validate(&prompt("none"), &client(true)).unwrap(),
        (true, false, None, None)
    );
    for combined in ["none login", "consent none"] {
        refused_with(
            prompt(combined),
            redirect(
                "invalid_request",
                "prompt=none cannot be combined with other values",
            ),
        );
    }
}

#[test]
fn rules_apply_in_order_client_first() {
    // Everything wrong at once: the redirect URI decides before any parameter.
    let q = AuthorizeQuery {
        redirect_uri: Some("https://evil.example.com/".into()),
        response_type: Some("token".into()),
        scope: None,
        ..query()
    };
    assert!(matches!(
        check(&q, Some(&client(true))),
        Err(Refusal::Page { .. })
    ));
    // A bad response type is reported before a bad scope, and the organization only
    // once every parameter passed.
    let q = AuthorizeQuery {
        response_type: Some("token".into()),
        scope: None,
        organization: Some("globex".into()),
        ..query()
    };
    refused_with(
        q,
        redirect(
            "unsupported_response_type",
            "only the authorization code flow is supported: response_type=code",
        ),
    );
}

#[test]
fn an_access_key_client_admits_its_own_service_account_only() {
    let key = OAuthClient {
        service_user_id: Some("svc-1".into()),
        ..client(true)
    };
    assert!(admits(&key, "svc-1", true).is_ok());
    assert!(admits(&key, "person-1", false).is_err());
    assert!(admits(&key, "svc-2", true).is_err());
    let app = client(true);
    assert!(admits(&app, "person-1", false).is_ok());
    assert!(admits(&app, "svc-1", true).is_err());
}
