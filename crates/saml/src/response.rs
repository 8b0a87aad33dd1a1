//! Validating a `samlp:Response` for one IdP connection (SAML 2.0 core §2–3, Web Browser SSO
//! profile §4.1). The identity is read only from an assertion covered by a verified signature.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use roxmltree::{Document, Node};

use crate::certs::Certificate;
use crate::dsig::{self, Policy, Verified};
use crate::xml::{
    self, child_elements, children_named, is, one_child, Limits, NS_ASSERTION, NS_DSIG, NS_PROTOCOL,
};
use crate::xmlenc::{self, DecryptionKey};
use crate::Error;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the service provider knows about one IdP connection.
#[derive(Debug, Clone)]
pub struct Connection<'c> {
    /// Our entity ID: the audience assertions must name.
    pub sp_entity_id: &'c str,
    /// Our Assertion Consumer Service URL: Destination and Recipient must equal it.
    pub acs_url: &'c str,
    /// The IdP's entity ID (its Issuer).
    pub idp_issuer: &'c str,
    /// The IdP's signing certificates (1–5); only these are trusted.
    pub certificates: &'c [Certificate],
    /// Algorithms tolerated.
    pub policy: Policy,
    /// Accept responses nobody asked for (IdP-initiated sign-on).
    pub allow_idp_initiated: bool,
    /// Accept a signature by an expired certificate.
    pub allow_expired_certificate: bool,
    /// Tolerated clock difference, in milliseconds.
    pub clock_skew_ms: i64,
    /// Parsing limits.
    pub limits: Limits,
    /// The SP's private keys for encrypted assertions (tried in turn); empty when the IdP does
    /// not encrypt.
    pub decryption_keys: &'c [DecryptionKey],
    /// Refuse a plaintext assertion: the IdP must encrypt to one of `decryption_keys`.
    pub require_encryption: bool,
    /// The one content-encryption algorithm URI accepted, when pinned.
    pub content_encryption: Option<&'c str>,
}

/// The default tolerated clock difference: 180 s.
pub const DEFAULT_CLOCK_SKEW_MS: i64 = 180_000;

/// Which request, if any, the response must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected<'r> {
    /// We sent an AuthnRequest with this ID (looked up by the caller from its pending requests).
    Request(&'r str),
    /// No pending request: an IdP-initiated response.
    Unsolicited,
}

/// One SAML attribute with all its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub name_format: Option<String>,
    pub friendly_name: Option<String>,
    pub values: Vec<String>,
}

/// The verified identity a Response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// When the IdP authenticated the user (the AuthnStatement's AuthnInstant), unix ms: what
    /// an OIDC `auth_time` is, and how a forced re-authentication is told from a reused one.
    pub authn_instant: i64,
    /// Unix ms.
    pub session_not_on_or_after: Option<i64>,
    /// Unix ms.
    pub issue_instant: i64,
    /// For the caller's replay cache: the assertion's ID…
    pub assertion_id: String,
    /// …and until when (unix ms) it must be remembered.
    pub not_on_or_after: i64,
    /// The request answered, if any.
    pub in_response_to: Option<String>,
    pub attributes: Vec<Attribute>,
    /// Whether the Response itself was signed (as well as, or instead of, the assertion).
    pub response_signed: bool,
    pub assertion_signed: bool,
}

impl Identity {
    /// All values of the attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.values.as_slice())
    }
}

/// Unverified facts read before validation, only to choose which connection's certificates to
/// try and which pending request to compare with. Nothing here may decide anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    pub response_issuer: Option<String>,
    pub assertion_issuer: Option<String>,
    pub in_response_to: Option<String>,
    /// The `OrganizationName` attribute, when present in a plain assertion.
    pub organization_name: Option<String>,
    /// The plain assertion's NameID, as written (for a support engineer's trace).
    pub name_id: Option<String>,
    /// The Response's Destination and IssueInstant, as written (for the support tool's notes).
    pub destination: Option<String>,
    pub issue_instant: Option<String>,
    /// The first Audience of a plain assertion: for a Response no request asked for, the one
    /// SP entity ID (and so the one connection) it claims to be for.
    pub audience: Option<String>,
}

/// Decodes the `SAMLResponse` form field of the HTTP-POST binding (base64, line breaks allowed).
pub fn decode_post(value: &str, limits: Limits) -> Result<Vec<u8>, Error> {
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() / 4 * 3 > limits.max_bytes + 3 {
        return Err(Error::TooLarge {
            limit: limits.max_bytes,
        });
    }
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Error::Encoding("SAMLResponse is not valid base64".into()))
}

fn root_response<'a, 'i>(doc: &'a Document<'i>) -> Result<Node<'a, 'i>, Error> {
    let root = doc.root_element();
    if !is(root, NS_PROTOCOL, "Response") {
        return Err(Error::Malformed(format!(
            "expected a samlp:Response, got {}",
            root.tag_name().name()
        )));
    }
    Ok(root)
}

fn issuer_text(node: Node<'_, '_>) -> Result<Option<String>, Error> {
    one_child(node, NS_ASSERTION, "Issuer")?
        .map(|i| xml::text(i).map(|t| xml::trim(&t).to_string()))
        .transpose()
}

/// Reads the [`Hints`] of a Response without verifying anything.
pub fn peek(bytes: &[u8], limits: Limits) -> Result<Hints, Error> {
    let doc = xml::parse(bytes, limits)?;
    let response = root_response(&doc)?;
    let assertion = children_named(response, NS_ASSERTION, "Assertion").next();
    let organization_name = assertion.and_then(|a| {
        a.descendants()
            .find(|n| {
                is(*n, NS_ASSERTION, "Attribute")
                    && xml::attr(*n, "Name") == Some("OrganizationName")
            })
            .and_then(|attr| children_named(attr, NS_ASSERTION, "AttributeValue").next())
            .and_then(|v| xml::text(v).ok())
    });
    let audience = assertion.and_then(|a| {
        a.descendants()
            .find(|n| is(*n, NS_ASSERTION, "Audience"))
            .and_then(|v| xml::text(v).ok())
            .map(|t| xml::trim(&t).to_string())
    });
    Ok(Hints {
        audience,
        response_issuer: issuer_text(response).ok().flatten(),
        assertion_issuer: assertion.and_then(|a| issuer_text(a).ok().flatten()),
        in_response_to: xml::attr(response, "InResponseTo").map(str::to_string),
        destination: xml::attr(response, "Destination").map(str::to_string),
        name_id: assertion.and_then(|a| {
            a.descendants()
                .find(|n| is(*n, NS_ASSERTION, "NameID"))
                .and_then(|v| xml::text(v).ok())
                .map(|t| xml::trim(&t).to_string())
        }),
        issue_instant: xml::attr(response, "IssueInstant").map(str::to_string),
        organization_name,
    })
}

/// Validates a decoded Response for `connection` at `now_ms` (unix ms).
pub fn validate(
    bytes: &[u8],
    connection: &Connection<'_>,
    expected: Expected<'_>,
    now_ms: i64,
) -> Result<Identity, Error> {
    let doc = xml::parse(bytes, connection.limits)?;
    let response = root_response(&doc)?;
    require_version(response)?;
    check_status(response)?;

    // Exactly one assertion in the whole document, plain or encrypted, a direct child of the
    // Response, and no signature anywhere but on the Response or that assertion: copies parked in
    // Extensions, Advice or a Signature's Object (signature wrapping) are refused outright.
    let assertions: Vec<Node> = doc
        .descendants()
        .filter(|n| is(*n, NS_ASSERTION, "Assertion"))
        .collect();
    let encrypted: Vec<Node> = doc
        .descendants()
        .filter(|n| is(*n, NS_ASSERTION, "EncryptedAssertion"))
        .collect();
    let assertion = match (assertions.as_slice(), encrypted.as_slice()) {
        ([one], []) | ([], [one]) => *one,
        _ => return Err(Error::AssertionCount(assertions.len() + encrypted.len())),
    };
    if assertion.parent_element().map(|p| p.id()) != Some(response.id()) {
        return Err(Error::Malformed(
            "the assertion is not a direct child of the Response".into(),
        ));
    }
    only_signatures_on(&doc, &[response, assertion])?;

    let usable = usable_certificates(connection, now_ms)?;
    let response_verified = dsig::verify(&doc, response, &usable, connection.policy)?;
    if encrypted.is_empty() && connection.require_encryption {
        return Err(Error::NotEncrypted);
    }
    if encrypted.is_empty() {
        let assertion_verified = dsig::verify(&doc, assertion, &usable, connection.policy)?;
        let trusted: Verified = match (assertion_verified, response_verified) {
            (Some(v), _) => v,
            (None, Some(r)) => r,
            (None, None) => return Err(Error::Unsigned),
        };
        return read_identity(
            connection,
            expected,
            now_ms,
            response,
            response_verified.is_some(),
            assertion,
            trusted,
        );
    }

    // Encrypted: decrypt, parse the plaintext on its own, and verify the assertion there.
    let plaintext = xmlenc::decrypt_assertion(
        assertion,
        connection.decryption_keys,
        connection.content_encryption,
    )?;
    decrypted_identity(
        &plaintext,
        connection,
        expected,
        now_ms,
        response,
        response_verified.is_some(),
        &usable,
    )
}

/// Validates the assertion decrypted from an `EncryptedAssertion`.
fn decrypted_identity(
    plaintext: &[u8],
    connection: &Connection<'_>,
    expected: Expected<'_>,
    now_ms: i64,
    response: Node<'_, '_>,
    response_signed: bool,
    usable: &[Certificate],
) -> Result<Identity, Error> {
    // Until the plaintext is shown authentic, a failure says only "decryption failed" unless the
    // Response signature covered the ciphertext: anyone can encrypt to our public certificate,
    // and distinct errors here would make a decryption (padding) oracle.
    let opaque = |e: Error| {
        if response_signed {
            e
        } else {
            Error::Decryption
        }
    };
    let inner = xml::parse(plaintext, connection.limits).map_err(opaque)?;
    let root = inner.root_element();
    let nested = inner
        .descendants()
        .filter(|n| is(*n, NS_ASSERTION, "Assertion"))
        .count();
    if !is(root, NS_ASSERTION, "Assertion") || nested != 1 {
        return Err(opaque(Error::AssertionCount(nested)));
    }
    only_signatures_on(&inner, &[root]).map_err(opaque)?;
    let trusted = match dsig::verify(&inner, root, usable, connection.policy).map_err(opaque)? {
        Some(v) => v,
        // The Response signature covers the ciphertext, and with it this plaintext.
        None if response_signed => Verified::through_signed_ciphertext(root),
        None => return Err(Error::Decryption),
    };
    read_identity(
        connection,
        expected,
        now_ms,
        response,
        response_signed,
        root,
        trusted,
    )
}

/// Refuses any `ds:Signature` whose parent is not one of `allowed`.
fn only_signatures_on(doc: &Document<'_>, allowed: &[Node<'_, '_>]) -> Result<(), Error> {
    for sig in doc.descendants().filter(|n| is(*n, NS_DSIG, "Signature")) {
        let parent = sig.parent_element().map(|p| p.id());
        if !allowed.iter().any(|a| Some(a.id()) == parent) {
            return Err(Error::SignatureStructure(
                "a Signature sits somewhere other than on the Response or the Assertion".into(),
            ));
        }
    }
    Ok(())
}

/// The connection's certificates valid at `now_ms`. Expired ones are left out (unless the
/// connection allows them); if that leaves none, the error names the expiry so the admin knows
/// to upload the new certificate.
fn usable_certificates(
    connection: &Connection<'_>,
    now_ms: i64,
) -> Result<Vec<Certificate>, Error> {
    let now_s = now_ms / 1000;
    let usable: Vec<Certificate> = connection
        .certificates
        .iter()
        .filter(|c| {
            c.check_validity(now_s, connection.allow_expired_certificate)
                .is_ok()
        })
        .cloned()
        .collect();
    if usable.is_empty() {
        if let Some(cert) = connection.certificates.iter().max_by_key(|c| c.not_after) {
            cert.check_validity(now_s, false)?;
        }
        return Err(Error::UnknownSigner);
    }
    Ok(usable)
}

fn require_version(node: Node<'_, '_>) -> Result<(), Error> {
    match xml::attr(node, "Version") {
        Some("2.0") => Ok(()),
        other => Err(Error::Malformed(format!(
            "unsupported SAML version {other:?}"
        ))),
    }
}

fn check_status(response: Node<'_, '_>) -> Result<(), Error> {
    let status = one_child(response, NS_PROTOCOL, "Status")?
        .ok_or_else(|| Error::Malformed("the Response has no Status".into()))?;
    let code = one_child(status, NS_PROTOCOL, "StatusCode")?
        .ok_or_else(|| Error::Malformed("the Status has no StatusCode".into()))?;
    let value = xml::attr(code, "Value").unwrap_or_default();
    if value == SUCCESS {
        return Ok(());
    }
    let mut full = value.to_string();
    if let Some(sub) =
        one_child(code, NS_PROTOCOL, "StatusCode")?.and_then(|s| xml::attr(s, "Value"))
    {
        full = format!("{full} / {sub}");
    }
    let message = one_child(status, NS_PROTOCOL, "StatusMessage")?.and_then(|m| xml::text(m).ok());
    Err(Error::Status {
        code: full,
        message,
    })
}

fn mismatch(what: &'static str, expected: &str, got: &str) -> Error {
    Error::Mismatch {
        what,
        expected: expected.to_string(),
        got: got.to_string(),
    }
}

fn time_attr(node: Node<'_, '_>, name: &str) -> Result<Option<i64>, Error> {
    xml::attr(node, name)
        .map(|v| crate::time::parse(v, name))
        .transpose()
}

/// The identity an assertion carries, once the Response around it and every rule of the
/// assertion pass, in the order the errors are reported.
fn read_identity(
    connection: &Connection<'_>,
    expected: Expected<'_>,
    now: i64,
    response: Node<'_, '_>,
    response_signed: bool,
    assertion: Node<'_, '_>,
    trusted: Verified<'_, '_>,
) -> Result<Identity, Error> {
    // Only an assertion the verifier vouched for is read.
    if !trusted.covers(assertion) {
        return Err(Error::Unsigned);
    }
    check_envelope(connection, expected, response, response_signed)?;

    require_version(assertion)?;
    let assertion_id = xml::attr(assertion, "ID")
        .ok_or_else(|| Error::Malformed("the assertion has no ID".into()))?;
    let issue_instant = time_attr(assertion, "IssueInstant")?
        .ok_or_else(|| Error::Malformed("the assertion has no IssueInstant".into()))?;
    let issuer = issuer_text(assertion)?
        .ok_or_else(|| Error::Malformed("the assertion has no Issuer".into()))?;
    if issuer != connection.idp_issuer {
        return Err(mismatch("assertion Issuer", connection.idp_issuer, &issuer));
    }

    let subject = read_subject(connection, expected, now, assertion)?;
    let conditions_until = check_conditions(connection, now, assertion)?;
    let session = read_session(connection, now, assertion)?;
    let attributes = read_attributes(assertion)?;

    Ok(Identity {
        issuer,
        name_id: subject.name_id,
        name_id_format: subject.name_id_format,
        session_index: session.index,
        authn_instant: session.authn_instant,
        session_not_on_or_after: session.not_on_or_after,
        issue_instant,
        assertion_id: assertion_id.to_string(),
        not_on_or_after: conditions_until
            .map_or(subject.confirmed_until, |c| c.max(subject.confirmed_until))
            .saturating_add(connection.clock_skew_ms),
        in_response_to: subject.in_response_to,
        attributes,
        response_signed,
        assertion_signed: trusted.node().id() == assertion.id() && trusted.is_own_signature(),
    })
}

/// Checks the Response's own envelope. When only the assertion is signed these fields are
/// unprotected, so they are checked for consistency but the assertion's own fields decide.
fn check_envelope(
    connection: &Connection<'_>,
    expected: Expected<'_>,
    response: Node<'_, '_>,
    response_signed: bool,
) -> Result<(), Error> {
    let destination = xml::attr(response, "Destination");
    if response_signed && destination.is_none() {
        return Err(Error::Malformed(
            "a signed Response must carry a Destination (SAML bindings §3.5.5.2)".into(),
        ));
    }
    if let Some(d) = destination.filter(|d| *d != connection.acs_url) {
        return Err(mismatch("Response Destination", connection.acs_url, d));
    }
    if let Some(issuer) = issuer_text(response)?.filter(|i| i != connection.idp_issuer) {
        return Err(mismatch("Response Issuer", connection.idp_issuer, &issuer));
    }
    match (expected, xml::attr(response, "InResponseTo")) {
        (Expected::Request(id), Some(got)) if got != id => {
            return Err(Error::UnknownInResponseTo(got.to_string()))
        }
        (Expected::Unsolicited, Some(got)) => {
            return Err(Error::UnknownInResponseTo(got.to_string()))
        }
        _ => {}
    }
    if expected == Expected::Unsolicited && !connection.allow_idp_initiated {
        return Err(Error::UnsolicitedNotAllowed);
    }
    Ok(())
}

/// What the assertion's Subject establishes.
struct Subject {
    name_id: String,
    name_id_format: Option<String>,
    /// Until when (unix ms) the bearer confirmation holds.
    confirmed_until: i64,
    in_response_to: Option<String>,
}

/// Reads the Subject: a non-empty NameID and a bearer confirmation for us. When no bearer
/// confirmation holds, the error is the last one's.
fn read_subject(
    connection: &Connection<'_>,
    expected: Expected<'_>,
    now: i64,
    assertion: Node<'_, '_>,
) -> Result<Subject, Error> {
    let subject = one_child(assertion, NS_ASSERTION, "Subject")?
        .ok_or_else(|| Error::Malformed("the assertion has no Subject".into()))?;
    let name_id = one_child(subject, NS_ASSERTION, "NameID")?
        .ok_or_else(|| Error::Malformed("the Subject has no NameID".into()))?;
    let name_id_value = xml::trim(&xml::text(name_id)?).to_string();
    if name_id_value.is_empty() {
        return Err(Error::Malformed("the NameID is empty".into()));
    }
    let mut confirmation_error = Error::NoBearerConfirmation;
    for confirmation in children_named(subject, NS_ASSERTION, "SubjectConfirmation") {
        if xml::attr(confirmation, "Method") != Some(BEARER) {
            continue;
        }
        match check_bearer(connection, expected, now, confirmation) {
            Ok((confirmed_until, in_response_to)) => {
                return Ok(Subject {
                    name_id: name_id_value,
                    name_id_format: xml::attr(name_id, "Format").map(str::to_string),
                    confirmed_until,
                    in_response_to,
                })
            }
            Err(e) => confirmation_error = e,
        }
    }
    Err(confirmation_error)
}

/// Checks the assertion's Conditions (time window and audience); returns their NotOnOrAfter.
fn check_conditions(
    connection: &Connection<'_>,
    now: i64,
    assertion: Node<'_, '_>,
) -> Result<Option<i64>, Error> {
    let skew = connection.clock_skew_ms;
    let conditions = one_child(assertion, NS_ASSERTION, "Conditions")?
        .ok_or_else(|| Error::Malformed("the assertion has no Conditions".into()))?;
    // A condition not understood makes the assertion indeterminate (SAML core §2.5.1.5).
    if let Some(unknown) = child_elements(conditions).find(|c| {
        !["AudienceRestriction", "OneTimeUse", "ProxyRestriction"]
            .iter()
            .any(|known| is(*c, NS_ASSERTION, known))
    }) {
        return Err(Error::Malformed(format!(
            "the assertion has a condition this service cannot evaluate ({})",
            unknown.tag_name().name()
        )));
    }
    if let Some(not_before) = time_attr(conditions, "NotBefore")? {
        if now.saturating_add(skew) < not_before {
            return Err(Error::NotYetValid {
                not_before: crate::time::format_ms(not_before),
            });
        }
    }
    let conditions_until = time_attr(conditions, "NotOnOrAfter")?;
    if let Some(until) = conditions_until {
        if now.saturating_sub(skew) >= until {
            return Err(Error::Expired {
                not_on_or_after: crate::time::format_ms(until),
            });
        }
    }
    check_audience(connection, conditions)?;
    Ok(conditions_until)
}

/// Requires at least one AudienceRestriction, and every one of them to name us.
fn check_audience(connection: &Connection<'_>, conditions: Node<'_, '_>) -> Result<(), Error> {
    let restrictions: Vec<Node> =
        children_named(conditions, NS_ASSERTION, "AudienceRestriction").collect();
    if restrictions.is_empty() {
        return Err(Error::WrongAudience {
            audiences: vec![],
            expected: connection.sp_entity_id.to_string(),
        });
    }
    for restriction in restrictions {
        let audiences: Vec<String> = children_named(restriction, NS_ASSERTION, "Audience")
            .map(|a| xml::text(a).map(|t| xml::trim(&t).to_string()))
            .collect::<Result<_, _>>()?;
        if !audiences.iter().any(|a| a == connection.sp_entity_id) {
            return Err(Error::WrongAudience {
                audiences,
                expected: connection.sp_entity_id.to_string(),
            });
        }
    }
    Ok(())
}

/// What the first AuthnStatement says of the IdP session.
struct Session {
    authn_instant: i64,
    not_on_or_after: Option<i64>,
    index: Option<String>,
}

fn read_session(
    connection: &Connection<'_>,
    now: i64,
    assertion: Node<'_, '_>,
) -> Result<Session, Error> {
    let authn = children_named(assertion, NS_ASSERTION, "AuthnStatement")
        .next()
        .ok_or(Error::NoAuthnStatement)?;
    // Required by SAML core §2.7.2.
    let authn_instant = time_attr(authn, "AuthnInstant")?
        .ok_or_else(|| Error::Malformed("the AuthnStatement has no AuthnInstant".into()))?;
    let not_on_or_after = time_attr(authn, "SessionNotOnOrAfter")?;
    if let Some(until) = not_on_or_after {
        if now.saturating_sub(connection.clock_skew_ms) >= until {
            return Err(Error::Expired {
                not_on_or_after: crate::time::format_ms(until),
            });
        }
    }
    Ok(Session {
        authn_instant,
        not_on_or_after,
        index: xml::attr(authn, "SessionIndex").map(str::to_string),
    })
}

/// Every Attribute of every AttributeStatement, in document order.
fn read_attributes(assertion: Node<'_, '_>) -> Result<Vec<Attribute>, Error> {
    let mut attributes = Vec::new();
    for statement in children_named(assertion, NS_ASSERTION, "AttributeStatement") {
        for attr in children_named(statement, NS_ASSERTION, "Attribute") {
            let name = xml::attr(attr, "Name")
                .ok_or_else(|| Error::Malformed("an Attribute has no Name".into()))?;
            let values = children_named(attr, NS_ASSERTION, "AttributeValue")
                .map(attribute_value)
                .collect::<Result<Vec<_>, _>>()?;
            attributes.push(Attribute {
                name: name.to_string(),
                name_format: xml::attr(attr, "NameFormat").map(str::to_string),
                friendly_name: xml::attr(attr, "FriendlyName").map(str::to_string),
                values,
            });
        }
    }
    Ok(attributes)
}

/// Checks one bearer `SubjectConfirmation`; returns its expiry and InResponseTo.
fn check_bearer(
    connection: &Connection<'_>,
    expected: Expected<'_>,
    now: i64,
    confirmation: Node<'_, '_>,
) -> Result<(i64, Option<String>), Error> {
    let data = one_child(confirmation, NS_ASSERTION, "SubjectConfirmationData")?
        .ok_or(Error::NoBearerConfirmation)?;
    let recipient = xml::attr(data, "Recipient").unwrap_or_default();
    if recipient != connection.acs_url {
        return Err(mismatch(
            "SubjectConfirmationData Recipient",
            connection.acs_url,
            recipient,
        ));
    }
    let until = time_attr(data, "NotOnOrAfter")?
        .ok_or_else(|| Error::Malformed("the bearer confirmation has no NotOnOrAfter".into()))?;
    if now.saturating_sub(connection.clock_skew_ms) >= until {
        return Err(Error::Expired {
            not_on_or_after: crate::time::format_ms(until),
        });
    }
    if let Some(not_before) = time_attr(data, "NotBefore")? {
        if now.saturating_add(connection.clock_skew_ms) < not_before {
            return Err(Error::NotYetValid {
                not_before: crate::time::format_ms(not_before),
            });
        }
    }
    let irt = xml::attr(data, "InResponseTo");
    match (expected, irt) {
        (Expected::Request(id), Some(got)) if got == id => {}
        (Expected::Request(_), Some(got)) => {
            return Err(Error::UnknownInResponseTo(got.to_string()))
        }
        (Expected::Request(id), None) => {
            return Err(Error::UnknownInResponseTo(format!("(none; expected {id})")))
        }
        (Expected::Unsolicited, Some(got)) => {
            return Err(Error::UnknownInResponseTo(got.to_string()))
        }
        (Expected::Unsolicited, None) => {}
    }
    Ok((until, irt.map(str::to_string)))
}

/// An attribute value's text. Values are usually text; some (eduPersonTargetedID) hold an
/// element such as a NameID, whose text is the value. Comments are dropped, as c14n drops them.
fn attribute_value(value: Node<'_, '_>) -> Result<String, Error> {
    if child_elements(value).next().is_none() {
        return xml::text(value);
    }
    Ok(value
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect())
}
