//! The SAML Assertion Consumer Service, `POST /saml`.
//!
//! A Response answering a pending sign-in (SP-initiated) must come from the browser that
//! started it (which holds the sealed pending sign-in), is verified against that sign-in's
//! connection only, and — in one transaction that spends the request and the assertion, and
//! checks that the connection still trusts what verified it, that the user is active and the
//! client live — opens a session and sends the code back to the client.
//!
//! A Response answering nothing (IdP-initiated, from the IdP's app tile) goes to
//! `unsolicited.rs`. It opens no session: nothing ties it to the browser it arrives in, so
//! letting it in would let anyone sign a victim's browser in as someone else.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use lanyard_saml::certs::Certificate;
use lanyard_saml::response::{self, Expected, Identity};
use lanyard_store::{
    GrantRefusal, LoginRequest, OAuthClient, Session, SignIn, SsoConnection, StoreError,
};
use serde::Deserialize;

use super::failures::{failed_through, Arrival, FailureLog, Signed};
use super::SamlState;
use crate::oidc::page::{error_page, store_failure};
use crate::oidc::step::Step;
use crate::oidc::{
    admits, consent, cookies, see_other, success, with_query, CODE_TTL_MS, SESSION_TTL_MS,
};
use crate::secrets::random_token;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    _relay_state: Option<String>,
}

/// The SAML attributes that carry an e-mail address, in the order they are tried after the
/// NameID: the plain names Okta and generic IdPs use, Entra ID's claim URI, LDAP's `mail`.
const EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "Email",
    "emailAddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "mail",
];

/// The addresses a verified identity is found (and, just in time, made) by: with the
/// connection's `attribute_mapping.email`, that attribute's first address only, so what is
/// found and what is made are the same; otherwise the NameID if it is one, then the common
/// e-mail attributes.
fn identity_emails(identity: &Identity, connection: &SsoConnection) -> Vec<String> {
    if let Some(name) = connection.attribute_mapping.email.as_deref() {
        return identity
            .attribute(name)
            .unwrap_or(&[])
            .iter()
            .find(|v| v.contains('@'))
            .map(|v| vec![v.trim().to_string()])
            .unwrap_or_default();
    }
    let mut out = Vec::new();
    if identity.name_id.contains('@') {
        out.push(identity.name_id.clone());
    }
    for name in EMAIL_ATTRIBUTES {
        for value in identity.attribute(name).unwrap_or(&[]) {
            if value.contains('@') && !out.contains(value) {
                out.push(value.clone());
            }
        }
    }
    out
}

pub(super) fn refused(message: &str, detail: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, message, detail)
}

/// The largest form `/saml` reads: a Response at the XML limit (256 KiB), base64-encoded and
/// form-encoded, with room to spare.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

fn too_large(detail: &str) -> Response {
    error_page(StatusCode::PAYLOAD_TOO_LARGE, "saml-too-large", detail)
}

/// One Response's handling: the state, and what its failures are recorded against.
pub(super) struct Through<'a> {
    pub state: &'a AppState,
    log: &'a FailureLog,
    arrival: &'a Arrival,
}

impl Through<'_> {
    /// A refusal through `connection`: `signed` says whether the Response had verified.
    pub async fn failed(
        &self,
        connection: &SsoConnection,
        refusal: (StatusCode, &str, Signed),
        detail: &str,
    ) -> Response {
        self.record(connection, refusal, (detail, None)).await
    }

    /// A Response through `connection` that did not verify, refused with `message`; the trace
    /// names the signature that failed, if one did.
    pub async fn unverified(
        &self,
        connection: &SsoConnection,
        message: &str,
        why: &Unverified,
    ) -> Response {
        let detail = format!("connection {} ({}): {why}", connection.id, connection.name);
        let refusal = (StatusCode::BAD_REQUEST, message, Signed::Unverified);
        self.record(connection, refusal, (&detail, why.signature()))
            .await
    }

    async fn record(
        &self,
        connection: &SsoConnection,
        (status, message, signed): (StatusCode, &str, Signed),
        trace: (&str, Option<&str>),
    ) -> Response {
        let arrival = (self.arrival, signed);
        let refusal = (status, message);
        failed_through(self.state, self.log, arrival, connection, refusal, trace).await
    }
}

/// Why a Response did not verify: the SAML library's reason, or the connection's own keys
/// could not be read.
pub(super) enum Unverified {
    Saml(lanyard_saml::Error),
    Keys(String),
}

impl Unverified {
    /// The signature that failed, for the trace: the element whose digest does not match, or
    /// that no configured certificate verified.
    fn signature(&self) -> Option<&'static str> {
        match self {
            Unverified::Saml(lanyard_saml::Error::DigestMismatch { signed }) => Some(signed),
            Unverified::Saml(lanyard_saml::Error::UnknownSigner) => Some("unknown signer"),
            _ => None,
        }
    }
}

impl std::fmt::Display for Unverified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unverified::Saml(e) => e.fmt(f),
            Unverified::Keys(why) => write!(f, "the connection's SP keys: {why}"),
        }
    }
}

pub async fn acs(
    State(saml): State<SamlState>,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<Form<AcsForm>, FormRejection>,
) -> Response {
    let state = &saml.app;
    let form = match form {
        Ok(Form(form)) => form,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return too_large(&format!("the form is larger than {MAX_BODY_BYTES} bytes"))
        }
        Err(e) => return refused("saml-no-response", &e.body_text()),
    };
    let Some(encoded) = form.saml_response.as_deref() else {
        return refused("saml-no-response", "SAMLResponse missing");
    };
    let limits = lanyard_saml::xml::Limits::default();
    let bytes = match response::decode_post(encoded, limits) {
        Ok(b) => b,
        Err(e @ lanyard_saml::Error::TooLarge { .. }) => return too_large(&e.to_string()),
        Err(e) => return refused("saml-undecodable", &e.to_string()),
    };
    let hints = match response::peek(&bytes, limits) {
        Ok(h) => h,
        Err(e) => return refused("saml-unreadable", &e.to_string()),
    };
    let arrival = Arrival::new(&extensions, &hints);
    let through = Through {
        state,
        log: &saml.failures,
        arrival: &arrival,
    };
    match hints.in_response_to.as_deref() {
        Some(request_id) => {
            // Only the browser that started the sign-in holds it (no login CSRF).
            let Some(held) = cookies::pending(state, &headers, request_id) else {
                return refused(
                    "saml-no-pending",
                    &format!("request {request_id:?}: no live pending sign-in in this browser"),
                );
            };
            // Its cookie goes whatever the outcome (it is answered), unless the consent page
            // still needs it.
            let slot = held.slot;
            let mut response = answer_request(&through, &headers, held, &bytes, request_id).await;
            if response
                .extensions()
                .get::<consent::KeepsPending>()
                .is_none()
            {
                cookies::clear_pending(state, &mut response, slot);
            }
            response
        }
        None => super::unsolicited::answer_nothing(&through, &bytes, &hints).await,
    }
}

/// The clock skew a connection allows, in ms.
pub(super) fn skew_ms(connection: &SsoConnection) -> i64 {
    connection.clock_skew_seconds.saturating_mul(1000)
}

/// Verifies a Response with a connection's current certificates, as the answer to the
/// request `answering` (none: IdP-initiated).
pub(super) async fn verify(
    state: &AppState,
    bytes: &[u8],
    connection: &SsoConnection,
    answering: Option<&str>,
) -> Result<Identity, Unverified> {
    // Keys are opened only for a Response that carries an encrypted assertion (the element's
    // name cannot be written any other way in XML, so this gate cannot miss one).
    let encrypted = bytes.windows(18).any(|w| w == b"EncryptedAssertion");
    let decryption_keys = if encrypted {
        crate::sp_keys::decryption_keys(state, connection)
            .await
            .map_err(|e| Unverified::Keys(format!("{e:#}")))?
    } else {
        vec![]
    };
    let certificates: Vec<Certificate> = connection
        .certificates
        .iter()
        .filter_map(|c| Certificate::parse(c.as_bytes()).ok())
        .collect();
    let acs_url = state.public_url.acs();
    let audience = state.public_url.audience_of(connection);
    let expected = response::Connection {
        sp_entity_id: &audience,
        acs_url: &acs_url,
        idp_issuer: &connection.idp_entity_id,
        certificates: &certificates,
        policy: Default::default(),
        allow_idp_initiated: answering.is_none(),
        allow_expired_certificate: false,
        clock_skew_ms: skew_ms(connection),
        limits: lanyard_saml::xml::Limits::default(),
        decryption_keys: &decryption_keys,
        require_encryption: connection.require_encrypted_assertions,
        content_encryption: Some(crate::sp_keys::content_encryption_uri(
            &connection.content_encryption,
        )),
    };
    let expected_request = match answering {
        Some(id) => Expected::Request(id),
        None => Expected::Unsolicited,
    };
    response::validate(bytes, &expected, expected_request, lanyard_store::now_ms())
        .map_err(Unverified::Saml)
}

/// The organization's user a verified identity names, or the page saying why there is none.
pub(super) async fn find_user(
    through: &Through<'_>,
    connection: &SsoConnection,
    identity: &Identity,
) -> Result<String, Response> {
    let emails = identity_emails(identity, connection);
    match through
        .state
        .store
        .find_user_for_sign_in(&connection.org_id, &emails)
        .await
    {
        Ok(Some(id)) => Ok(id),
        Ok(None) => {
            let org = match through.state.store.get_org(&connection.org_id).await {
                Ok(org) => org,
                Err(e) => return Err(store_failure(&e)),
            };
            if org.settings.jit_provisioning {
                return super::jit::provisioned(through, connection, identity, &emails).await;
            }
            let detail = format!(
                "no user with {emails:?} (NameID {:?}), and just-in-time provisioning is off",
                identity.name_id
            );
            let refusal = (StatusCode::FORBIDDEN, "saml-no-user", Signed::Verified);
            Err(through.failed(connection, refusal, &detail).await)
        }
        Err(e) => Err(store_failure(&e)),
    }
}

pub(super) fn deactivated(user_id: &str) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "signin-deactivated",
        &format!("user {user_id} is deactivated"),
    )
}

/// The client and connection of the pending sign-in a Response answers, its redirect URI
/// restored; or the page saying it cannot go on.
async fn answered(
    state: &AppState,
    pending: &mut LoginRequest,
    redirect_index: usize,
) -> Result<(OAuthClient, SsoConnection), Response> {
    let client = match state.store.oauth_client(&pending.client_id).await {
        Ok(Some((client, _))) => client,
        Ok(None) => return Err(refused("signin-client-gone", "client gone")),
        Err(e) => return Err(store_failure(&e)),
    };
    let Some(redirect_uri) = client.redirect_uris.get(redirect_index) else {
        return Err(refused("signin-client-changed", "redirect index"));
    };
    pending.redirect_uri = redirect_uri.clone();
    let connection = match state
        .store
        .get_sso_connection(&pending.org_id, &pending.connection_id)
        .await
    {
        Ok(c) if c.enabled => c,
        Ok(c) => {
            return Err(refused(
                "saml-connection-off",
                &format!("connection {} is turned off", c.id),
            ))
        }
        Err(StoreError::NotFound) => {
            return Err(refused(
                "saml-connection-gone",
                &format!("connection {} is gone", pending.connection_id),
            ))
        }
        Err(e) => return Err(store_failure(&e)),
    };
    Ok((client, connection))
}

/// An SP-initiated sign-in's Response.
async fn answer_request(
    through: &Through<'_>,
    headers: &HeaderMap,
    held: cookies::Held,
    bytes: &[u8],
    request_id: &str,
) -> Response {
    let cookies::Held {
        request: mut pending,
        redirect_index,
        slot,
    } = held;
    let state = through.state;
    let (client, connection) = match answered(state, &mut pending, redirect_index).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let identity = match verify(state, bytes, &connection, Some(&pending.id)).await {
        Ok(identity) => identity,
        Err(e) => return through.unverified(&connection, "saml-unverified", &e).await,
    };
    if let Err(page) = same_organization(through, &connection, &identity).await {
        return page;
    }
    if let Some(t) = pending.auth_not_before {
        if identity.authn_instant < t {
            return error_page(
                StatusCode::FORBIDDEN,
                "saml-not-fresh",
                &format!(
                    "connection {}: AuthnInstant {} is before the required {t}",
                    connection.id, identity.authn_instant
                ),
            );
        }
    }
    let user_id = match find_user(through, &connection, &identity).await {
        Ok(id) => id,
        Err(page) => return page,
    };
    // A person signed in at the IdP: an access key's client admits its service account only.
    if let Err(why) = admits(&client, &user_id, false) {
        return refuse_to_app(&pending, "access_denied", why);
    }
    let consent_first =
        match consent::needs_consent(state, &client, &pending.org_id, &user_id).await {
            Ok(needed) => needed,
            Err(e) => return store_failure(&e),
        };
    let now = lanyard_store::now_ms();
    let session_secret = random_token("lys_", 32);
    let code = random_token("lyc_", 32);
    let session_hash = state.secrets.hash_secret(&session_secret);
    let code_hash = state.secrets.hash_secret(&code);
    let replay_audience = state.public_url.replay_audience_of(&connection);
    let session_expires_at = identity
        .session_not_on_or_after
        .map_or(now + SESSION_TTL_MS, |t| t.min(now + SESSION_TTL_MS));
    let sign_in = SignIn {
        request: &pending,
        code_hash: (!consent_first).then_some(code_hash.as_str()),
        code_expires_at: now + CODE_TTL_MS,
        connection_id: &connection.id,
        idp_entity_id: &connection.idp_entity_id,
        certificates: &connection.certificates,
        audience: &replay_audience,
        assertion_id: &identity.assertion_id,
        assertion_expires_at: identity.not_on_or_after.max(now) + skew_ms(&connection),
        session_hash: &session_hash,
        session_expires_at,
    };
    let auth_time = identity.authn_instant.min(now);
    let session;
    match state
        .store
        .complete_sign_in(&user_id, auth_time, &sign_in)
        .await
    {
        Ok(Ok(opened)) => session = opened,
        Ok(Err(GrantRefusal::UserInactive)) => return deactivated(&user_id),
        Ok(Err(GrantRefusal::Invalid)) => {
            return refused(
                "saml-spent",
                &format!(
                    "request {request_id:?} / assertion {:?} refused at completion",
                    identity.assertion_id
                ),
            )
        }
        Err(e) => return store_failure(&e),
    }
    let mut response = if consent_first {
        let place = (redirect_index, slot);
        ask_consent(state, headers, pending, client, place, &session).await
    } else {
        success(&pending.redirect_uri, &code, pending.state.as_deref())
    };
    let max_age = (session_expires_at - now).max(0) / 1000;
    cookies::set_session(state, &mut response, &session_secret, max_age);
    response
}

/// The consent page, with the pending sign-in kept (in its slot) for the answer from the
/// session just opened.
async fn ask_consent(
    state: &AppState,
    headers: &HeaderMap,
    pending: LoginRequest,
    client: OAuthClient,
    (redirect_index, slot): (usize, usize),
    session: &Session,
) -> Response {
    let org = match state.store.get_org(&pending.org_id).await {
        Ok(org) => org,
        Err(e) => return store_failure(&e),
    };
    let step = Step {
        pending,
        redirect_index,
        slot: Some(slot),
        client,
        org,
    };
    consent::consent_page(state, headers, step, session).await
}

/// An OAuth error sent back to the app's verified redirect URI.
fn refuse_to_app(pending: &LoginRequest, error: &str, description: &str) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = pending.state.as_deref() {
        params.push(("state", s));
    }
    see_other(&with_query(&pending.redirect_uri, &params))
}

/// The attribute that names the organization on the shared audience (seed 000).
pub(super) const ORGANIZATION_NAME: &str = "OrganizationName";

/// For a connection on the shared audience, checks that the signed assertion carries exactly
/// one `OrganizationName` value and that it names the connection's own organization (its short
/// name or id, exactly): an IdP trusted by one organization cannot sign people into another by
/// naming it, nor by naming nobody.
pub(super) async fn same_organization(
    through: &Through<'_>,
    connection: &SsoConnection,
    identity: &Identity,
) -> Result<(), Response> {
    if !connection.shared_audience {
        return Ok(());
    }
    let named: Vec<&String> = identity
        .attributes
        .iter()
        .filter(|a| a.name == ORGANIZATION_NAME)
        .flat_map(|a| &a.values)
        .collect();
    let detail = match named.as_slice() {
        [name] => {
            let org = match through.state.store.get_org(&connection.org_id).await {
                Ok(org) => org,
                Err(e) => return Err(store_failure(&e)),
            };
            if **name == org.id || **name == org.short_name {
                return Ok(());
            }
            format!(
                "connection {} of organization {:?} shares the ACS URL: the signed {ORGANIZATION_NAME} is {name:?}",
                connection.id, org.short_name
            )
        }
        names => format!(
            "connection {} shares the ACS URL: the signed assertion must carry exactly one {ORGANIZATION_NAME} value naming its organization; it carries {}",
            connection.id,
            names.len()
        ),
    };
    let refusal = (
        StatusCode::FORBIDDEN,
        "saml-wrong-organization",
        Signed::Verified,
    );
    Err(through.failed(connection, refusal, &detail).await)
}
