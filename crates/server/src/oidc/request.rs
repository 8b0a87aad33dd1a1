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
    /// The e-mail the sign-in page starts with (OIDC Core §3.1.2.1).
    login_hint: Option<String>,
    /// Request objects are not supported; their presence is an error, not silently ignored.
    request: Option<String>,
    request_uri: Option<String>,
    response_mode: Option<String>,
}

/// Longest `state`, `nonce`, `scope`, `organization` and `login_hint` kept.
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
            message: "signin-no-client",
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
            message: "signin-unknown-client",
            detail: query.client_id.clone().unwrap_or_default(),
        });
    };
    if client.client_type == "backend" {
        // No redirect URI can be verified for it, so the refusal is a page, never a redirect.
        return Err(Refusal::Page {
            message: "signin-backend-client",
            detail: format!("backend client {} in the code flow", client.id),
        });
    }
    let registered = query
        .redirect_uri
        .as_deref()
        .and_then(|uri| Some((uri, client.redirect_uris.iter().position(|r| r == uri)?)));
    let Some((redirect_uri, redirect_index)) = registered else {
        return Err(Refusal::Page {
            message: "signin-bad-redirect",
            detail: query
                .redirect_uri
                .as_deref()
                .unwrap_or("redirect_uri missing")
                .into(),
        });
    };
    // From here on refusals go back to the client.
    let to = ReturnTo {
        redirect_uri,
        state: query.state.as_deref(),
    };
    let scope = check_parameters(query, to)?;
    if scope
        .split(' ')
        .any(|s| !s.is_empty() && !client.scopes.iter().any(|r| r == s))
    {
        return Err(to.refuse(
            "invalid_scope",
            "the scope asks for more than the client is registered for",
        ));
    }
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
        q.login_hint.as_deref(),
    ];
    if kept.into_iter().flatten().any(|p| !clean(p, MAX_PARAM_LEN)) {
        return Err(to.refuse(
            "invalid_request",
            "state, nonce, scope, organization and login_hint are limited to 512 characters without control characters",
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
        (None, None) if client.client_type == "public" => Err(to.refuse(
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
            login_hint: q.login_hint.as_deref(),
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
    pub login_hint: Option<&'q str>,
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

/// Whether `client` lets this user sign in through it: an access key acting as a client admits
/// its own service account only, and a service account signs in through nothing else. The
/// refusal is sent back to the client as `access_denied`.
pub fn admits(client: &OAuthClient, user_id: &str, is_service: bool) -> Result<(), &'static str> {
    match &client.service_user_id {
        Some(own) if own == user_id => Ok(()),
        Some(_) => Err("this access key signs in only its own service account"),
        None if is_service => {
            Err("a service account signs in only through its own access key as the client")
        }
        None => Ok(()),
    }
}

/// A 43-character base64url value: what S256 produces (RFC 7636 §4.2).
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
