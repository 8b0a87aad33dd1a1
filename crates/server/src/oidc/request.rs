//! The rules of an authorization request (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2), applied
//! to its query parameters, the client it names and that client's organization. Nothing here
//! reads or writes anything, so every rule is tested here; `authorize.rs` does the I/O.
//!
//! The rules run in two steps because the organization is read only for a request that passes
//! the first: [`check`] (the client, its redirect URI and the parameters), then
//! [`Checked::in_org`] (what depends on the organization and the time). Each refusal says how
//! it reaches the user: until the client and its redirect URI are verified, as an error page
//! (RFC 6749 §4.1.2.1: never a redirect); after, as an error sent back to that redirect URI.

use lanyard_saml::response::DEFAULT_CLOCK_SKEW_MS;
use lanyard_store::{OAuthClient, Organization};
use serde::Deserialize;

use super::clean;

/// Query parameters of an authorization request (OIDC Core §3.1.2.1), plus `organization`.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    organization: Option<String>,
    /// Request objects are not supported; their presence is an error, not silently ignored.
    request: Option<String>,
    request_uri: Option<String>,
    response_mode: Option<String>,
}

/// Longest `state`, `nonce`, `scope` and `organization` kept.
const MAX_PARAM_LEN: usize = 512;

/// Longest `client_id` looked up.
const MAX_CLIENT_ID_LEN: usize = 200;

/// Why an authorization request is refused, and how the refusal reaches the user.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An error page: the client or its redirect URI is not verified, so nothing may be sent
    /// there. `detail` goes to the log only.
    Page {
        message: &'static str,
        detail: String,
    },
    /// An OAuth error sent back to the client's verified redirect URI, with the request's
    /// `state`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: &'static str,
    },
}

/// The `client_id` to look up; `None` when it cannot name a client (too long, or holding
/// control characters, which PostgreSQL refuses in text): that client is unknown without a
/// lookup.
pub fn client_to_look_up(query: &AuthorizeQuery) -> Result<Option<&str>, Refusal> {
    let Some(client_id) = query.client_id.as_deref() else {
        return Err(Refusal::Page {
            message: "The app's sign-in request names no client (client_id is missing).",
            detail: "client_id missing".into(),
        });
    };
    Ok(clean(client_id, MAX_CLIENT_ID_LEN).then_some(client_id))
}

/// A request whose client, redirect URI and parameters passed; the rest needs the client's
/// organization.
#[derive(Debug)]
pub struct Checked<'q> {
    query: &'q AuthorizeQuery,
    client: &'q OAuthClient,
    to: ReturnTo<'q>,
    redirect_index: usize,
    scope: &'q str,
    code_challenge: Option<&'q str>,
}

/// Where refusals go once the redirect URI is verified.
#[derive(Debug, Clone, Copy)]
struct ReturnTo<'q> {
    redirect_uri: &'q str,
    state: Option<&'q str>,
}

impl ReturnTo<'_> {
    fn refuse(self, error: &'static str, description: &'static str) -> Refusal {
        Refusal::Redirect {
            redirect_uri: self.redirect_uri.to_string(),
            state: self.state.map(str::to_string),
            error,
            description,
        }
    }
}

/// Checks the client (`client` is what [`client_to_look_up`] found: `None` when unknown), the
/// redirect URI, then every parameter that needs nothing else, in that order.
pub fn check<'q>(
    query: &'q AuthorizeQuery,
    client: Option<&'q OAuthClient>,
) -> Result<Checked<'q>, Refusal> {
    let looked_up = client_to_look_up(query)?.and(client);
    let Some(client) = looked_up.filter(|c| c.revoked_at.is_none()) else {
        return Err(Refusal::Page {
            message: "The app's sign-in request names a client that is unknown or revoked.",
            detail: query.client_id.clone().unwrap_or_default(),
        });
    };
    let registered = query
        .redirect_uri
        .as_deref()
        .and_then(|uri| Some((uri, client.redirect_uris.iter().position(|r| r == uri)?)));
    let Some((redirect_uri, redirect_index)) = registered else {
        return Err(Refusal::Page {
            message:
                "The app asked to return to an address that is not registered for it (redirect_uri).",
            detail: query.redirect_uri.as_deref().unwrap_or("redirect_uri missing").into(),
        });
    };
    // From here on refusals go back to the client.
    let to = ReturnTo {
        redirect_uri,
        state: query.state.as_deref(),
    };
    let scope = check_parameters(query, to)?;
    let code_challenge = check_pkce(query, client, to)?;
    Ok(Checked {
        query,
        client,
        to,
        redirect_index,
        scope,
        code_challenge,
    })
}

/// The flow asked for, and the length and characters of what is kept; the scope.
fn check_parameters<'q>(q: &'q AuthorizeQuery, to: ReturnTo<'_>) -> Result<&'q str, Refusal> {
    if q.request.is_some() || q.request_uri.is_some() {
        return Err(to.refuse(
            "request_not_supported",
            "request objects are not supported; send the parameters in the query",
        ));
    }
    if q.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(to.refuse("invalid_request", "only response_mode=query is supported"));
    }
    if q.response_type.as_deref() != Some("code") {
        return Err(to.refuse(
            "unsupported_response_type",
            "only the authorization code flow is supported: response_type=code",
        ));
    }
    let scope = q.scope.as_deref().unwrap_or("");
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(to.refuse("invalid_scope", "the scope must include openid"));
    }
    let kept = [
        q.state.as_deref(),
        q.nonce.as_deref(),
        Some(scope),
        q.organization.as_deref(),
    ];
    if kept.into_iter().flatten().any(|p| !clean(p, MAX_PARAM_LEN)) {
        return Err(to.refuse(
            "invalid_request",
            "state, nonce, scope and organization are limited to 512 characters without control characters",
        ));
    }
    Ok(scope)
}

/// PKCE: S256 only, and required of a public client; the challenge, if any.
fn check_pkce<'q>(
    q: &'q AuthorizeQuery,
    client: &OAuthClient,
    to: ReturnTo<'_>,
) -> Result<Option<&'q str>, Refusal> {
    match (
        q.code_challenge.as_deref(),
        q.code_challenge_method.as_deref(),
    ) {
        (Some(c), Some("S256")) if is_s256_challenge(c) => Ok(Some(c)),
        (Some(_), Some("S256")) => Err(to.refuse(
            "invalid_request",
            "code_challenge must be 43 base64url characters (S256)",
        )),
        (Some(_), _) => Err(to.refuse(
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)",
        )),
        (None, Some(_)) => Err(to.refuse(
            "invalid_request",
            "code_challenge_method without code_challenge",
        )),
        (None, None) if !client.confidential => Err(to.refuse(
            "invalid_request",
            "a public client must use PKCE (code_challenge with S256)",
        )),
        (None, None) => Ok(None),
    }
}

impl<'q> Checked<'q> {
    /// The client the request is for.
    pub fn client(&self) -> &'q OAuthClient {
        self.client
    }

    /// The rules that need the client's organization and the time `now` (unix ms): the
    /// organization named, `prompt` and `max_age`.
    pub fn in_org(self, org: &Organization, now: i64) -> Result<AuthorizationRequest<'q>, Refusal> {
        let q = self.query;
        if let Some(named) = q.organization.as_deref() {
            if !named.eq_ignore_ascii_case(&org.short_name) && named != org.id {
                return Err(self.to.refuse(
                    "invalid_request",
                    "this client belongs to another organization than the one named",
                ));
            }
        }
        let prompt: Vec<&str> = q.prompt.as_deref().unwrap_or("").split(' ').collect();
        let max_age_ms = match q.max_age.as_deref().map(str::parse::<u32>) {
            None => None,
            Some(Ok(seconds)) => Some(i64::from(seconds) * 1000),
            Some(Err(_)) => {
                return Err(self.to.refuse(
                    "invalid_request",
                    "max_age must be a whole number of seconds",
                ))
            }
        };
        let force_login = prompt.contains(&"login");
        // The earliest authentication at the IdP the client accepts (OIDC Core §3.1.2.1): a
        // new one for prompt=login, one within max_age otherwise — give or take the clock skew
        // allowed between the IdP and us.
        let auth_not_before = match (force_login, max_age_ms) {
            (true, _) => Some(now - DEFAULT_CLOCK_SKEW_MS),
            (false, Some(max_age)) => Some(now - max_age - DEFAULT_CLOCK_SKEW_MS),
            (false, None) => None,
        };
        let prompt_none = prompt.contains(&"none");
        if prompt_none && (force_login || prompt.contains(&"consent")) {
            return Err(self.to.refuse(
                "invalid_request",
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(AuthorizationRequest {
            client: self.client,
            redirect_uri: self.to.redirect_uri,
            redirect_index: self.redirect_index,
            state: q.state.as_deref(),
            scope: self.scope,
            nonce: q.nonce.as_deref(),
            code_challenge: self.code_challenge,
            prompt_none,
            force_login,
            max_age_ms,
            auth_not_before,
        })
    }
}

/// An authorization request that passed every rule.
#[derive(Debug, PartialEq, Eq)]
pub struct AuthorizationRequest<'q> {
    pub client: &'q OAuthClient,
    /// One of the client's registered redirect URIs…
    pub redirect_uri: &'q str,
    /// …and its index among them (what a pending sign-in keeps).
    pub redirect_index: usize,
    pub state: Option<&'q str>,
    pub scope: &'q str,
    pub nonce: Option<&'q str>,
    /// The S256 PKCE challenge.
    pub code_challenge: Option<&'q str>,
    /// prompt=none: answer from a live session or not at all.
    pub prompt_none: bool,
    /// prompt=login: a live session may not answer.
    pub force_login: bool,
    /// How long ago (ms) the user may have authenticated for a live session to answer.
    pub max_age_ms: Option<i64>,
    /// The earliest authentication at the IdP accepted (unix ms), when the client limits it.
    pub auth_not_before: Option<i64>,
}

impl AuthorizationRequest<'_> {
    /// A refusal sent back to the client, for what only the store can tell.
    pub fn refuse(&self, error: &'static str, description: &'static str) -> Refusal {
        let to = ReturnTo {
            redirect_uri: self.redirect_uri,
            state: self.state,
        };
        to.refuse(error, description)
    }
}

/// A 43-character base64url value: what S256 produces (RFC 7636 §4.2).
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use lanyard_store::OrgSettings;

    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const APP: &str = "https://app.example.com/callback";

    fn client(confidential: bool) -> OAuthClient {
        OAuthClient {
            id: "client-1".into(),
            org_id: "org-1".into(),
            name: "App".into(),
            redirect_uris: vec!["https://other.example.com/cb".into(), APP.into()],
            initiate_login_uri: None,
            confidential,
            created_at: 0,
            revoked_at: None,
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
        let missing = page(
            "The app's sign-in request names no client (client_id is missing).",
            "client_id missing",
        );
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
                page(
                    "The app's sign-in request names a client that is unknown or revoked.",
                    &unreadable
                )
            );
        }
    }

    #[test]
    fn an_unknown_or_revoked_client_is_an_error_page() {
        let unknown = page(
            "The app's sign-in request names a client that is unknown or revoked.",
            "client-1",
        );
        assert_eq!(check(&query(), None).unwrap_err(), unknown);
        let revoked = OAuthClient {
            revoked_at: Some(1),
            ..client(true)
        };
        assert_eq!(check(&query(), Some(&revoked)).unwrap_err(), unknown);
    }

    #[test]
    fn an_unregistered_redirect_uri_is_an_error_page_never_a_redirect() {
        let message =
            "The app asked to return to an address that is not registered for it (redirect_uri).";
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
                "state, nonce, scope and organization are limited to 512 characters without control characters",
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
                description: "state, nonce, scope and organization are limited to 512 characters without control characters",
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
}
