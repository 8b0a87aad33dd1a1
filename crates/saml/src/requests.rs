//! Messages the SP sends and the logout messages it receives (SAML core §3.4, §3.7).

use roxmltree::Node;

use crate::bindings::RedirectMessage;
use crate::certs::Certificate;
use crate::dsig::{self, Policy};
use crate::metadata::BINDING_POST;
use crate::writer::Xml;
use crate::xml::{self, children_named, is, one_child, Limits, NS_ASSERTION, NS_PROTOCOL};
use crate::Error;

/// What an AuthnRequest says.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    /// Our request ID; the Response must answer it (`InResponseTo`). Must start with a letter or
    /// `_` (an `xs:ID`).
    pub id: &'a str,
    /// Unix ms.
    pub issue_instant: i64,
    /// The IdP's SSO URL.
    pub destination: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub name_id_format: Option<&'a str>,
    pub force_authn: bool,
}

impl AuthnRequest<'_> {
    /// The request as XML (unsigned; sign with [`crate::dsig::sign_enveloped`] for HTTP-POST, or
    /// pass a key to [`crate::bindings::redirect_url`] for HTTP-Redirect).
    pub fn to_xml(&self) -> String {
        let instant = crate::time::format_ms(self.issue_instant);
        let mut x = Xml::new();
        x.open(
            "samlp:AuthnRequest",
            &[
                ("xmlns:samlp", Some(NS_PROTOCOL)),
                ("xmlns:saml", Some(NS_ASSERTION)),
                ("ID", Some(self.id)),
                ("Version", Some("2.0")),
                ("IssueInstant", Some(&instant)),
                ("Destination", Some(self.destination)),
                ("AssertionConsumerServiceURL", Some(self.acs_url)),
                ("ProtocolBinding", Some(BINDING_POST)),
                ("ForceAuthn", self.force_authn.then_some("true")),
            ],
        );
        x.leaf("saml:Issuer", &[], self.sp_entity_id);
        if let Some(format) = self.name_id_format {
            x.empty(
                "samlp:NameIDPolicy",
                &[("Format", Some(format)), ("AllowCreate", Some("true"))],
            );
        }
        x.close("samlp:AuthnRequest");
        x.finish()
    }
}

/// A LogoutRequest, sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: String,
    /// Unix ms.
    pub issue_instant: i64,
    pub destination: Option<String>,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_indexes: Vec<String>,
    /// Unix ms.
    pub not_on_or_after: Option<i64>,
}

/// A LogoutResponse, sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutResponse {
    pub id: String,
    /// Unix ms.
    pub issue_instant: i64,
    pub destination: Option<String>,
    pub issuer: String,
    pub in_response_to: String,
    /// The top-level status code URI.
    pub status: String,
}

/// The success status code.
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

fn common<'a, 'i>(
    root: Node<'a, 'i>,
    local: &str,
) -> Result<(String, i64, Option<String>, String), Error> {
    if !is(root, NS_PROTOCOL, local) {
        return Err(Error::Malformed(format!("expected a samlp:{local}")));
    }
    if xml::attr(root, "Version") != Some("2.0") {
        return Err(Error::Malformed("unsupported SAML version".into()));
    }
    let id =
        xml::attr(root, "ID").ok_or_else(|| Error::Malformed(format!("the {local} has no ID")))?;
    let instant = xml::attr(root, "IssueInstant")
        .ok_or_else(|| Error::Malformed(format!("the {local} has no IssueInstant")))?;
    let issuer = one_child(root, NS_ASSERTION, "Issuer")?
        .ok_or_else(|| Error::Malformed(format!("the {local} has no Issuer")))?;
    Ok((
        id.to_string(),
        crate::time::parse(instant, "IssueInstant")?,
        xml::attr(root, "Destination").map(str::to_string),
        xml::trim(&xml::text(issuer)?).to_string(),
    ))
}

impl LogoutRequest {
    /// As XML (unsigned).
    pub fn to_xml(&self) -> String {
        let instant = crate::time::format_ms(self.issue_instant);
        let until = self.not_on_or_after.map(crate::time::format_ms);
        let mut x = Xml::new();
        x.open(
            "samlp:LogoutRequest",
            &[
                ("xmlns:samlp", Some(NS_PROTOCOL)),
                ("xmlns:saml", Some(NS_ASSERTION)),
                ("ID", Some(&self.id)),
                ("Version", Some("2.0")),
                ("IssueInstant", Some(&instant)),
                ("Destination", self.destination.as_deref()),
                ("NotOnOrAfter", until.as_deref()),
            ],
        );
        x.leaf("saml:Issuer", &[], &self.issuer);
        x.leaf(
            "saml:NameID",
            &[("Format", self.name_id_format.as_deref())],
            &self.name_id,
        );
        for index in &self.session_indexes {
            x.leaf("samlp:SessionIndex", &[], index);
        }
        x.close("samlp:LogoutRequest");
        x.finish()
    }

    /// Reads a LogoutRequest received by HTTP-Redirect, after checking its query signature.
    pub fn from_redirect(
        message: &RedirectMessage,
        certs: &[Certificate],
        policy: Policy,
        limits: Limits,
    ) -> Result<LogoutRequest, Error> {
        read_redirect(
            message,
            certs,
            policy,
            limits,
            LogoutRequest::parse_unverified,
        )
    }

    /// Reads a LogoutRequest received by HTTP-POST, after checking its enveloped signature.
    pub fn from_post(
        bytes: &[u8],
        certs: &[Certificate],
        policy: Policy,
        limits: Limits,
    ) -> Result<LogoutRequest, Error> {
        read_post(
            bytes,
            certs,
            policy,
            limits,
            LogoutRequest::parse_unverified,
        )
    }

    /// Reads a LogoutRequest without checking any signature: only for messages whose origin is
    /// established otherwise (and for tests). Prefer [`LogoutRequest::from_redirect`] or
    /// [`LogoutRequest::from_post`].
    pub fn parse_unverified(bytes: &[u8], limits: Limits) -> Result<LogoutRequest, Error> {
        let doc = xml::parse(bytes, limits)?;
        let root = doc.root_element();
        let (id, issue_instant, destination, issuer) = common(root, "LogoutRequest")?;
        let name_id = one_child(root, NS_ASSERTION, "NameID")?
            .ok_or_else(|| Error::Malformed("the LogoutRequest has no NameID".into()))?;
        Ok(LogoutRequest {
            id,
            issue_instant,
            destination,
            issuer,
            name_id: xml::trim(&xml::text(name_id)?).to_string(),
            name_id_format: xml::attr(name_id, "Format").map(str::to_string),
            session_indexes: children_named(root, NS_PROTOCOL, "SessionIndex")
                .map(|s| xml::text(s).map(|t| xml::trim(&t).to_string()))
                .collect::<Result<_, _>>()?,
            not_on_or_after: xml::attr(root, "NotOnOrAfter")
                .map(|v| crate::time::parse(v, "NotOnOrAfter"))
                .transpose()?,
        })
    }
}

impl LogoutResponse {
    /// As XML (unsigned).
    pub fn to_xml(&self) -> String {
        let instant = crate::time::format_ms(self.issue_instant);
        let mut x = Xml::new();
        x.open(
            "samlp:LogoutResponse",
            &[
                ("xmlns:samlp", Some(NS_PROTOCOL)),
                ("xmlns:saml", Some(NS_ASSERTION)),
                ("ID", Some(&self.id)),
                ("Version", Some("2.0")),
                ("IssueInstant", Some(&instant)),
                ("Destination", self.destination.as_deref()),
                ("InResponseTo", Some(&self.in_response_to)),
            ],
        );
        x.leaf("saml:Issuer", &[], &self.issuer);
        x.open("samlp:Status", &[]);
        x.empty("samlp:StatusCode", &[("Value", Some(&self.status))]);
        x.close("samlp:Status");
        x.close("samlp:LogoutResponse");
        x.finish()
    }

    /// Reads a LogoutResponse received by HTTP-Redirect, after checking its query signature.
    pub fn from_redirect(
        message: &RedirectMessage,
        certs: &[Certificate],
        policy: Policy,
        limits: Limits,
    ) -> Result<LogoutResponse, Error> {
        read_redirect(
            message,
            certs,
            policy,
            limits,
            LogoutResponse::parse_unverified,
        )
    }

    /// Reads a LogoutResponse received by HTTP-POST, after checking its enveloped signature.
    pub fn from_post(
        bytes: &[u8],
        certs: &[Certificate],
        policy: Policy,
        limits: Limits,
    ) -> Result<LogoutResponse, Error> {
        read_post(
            bytes,
            certs,
            policy,
            limits,
            LogoutResponse::parse_unverified,
        )
    }

    /// Reads a LogoutResponse without checking any signature (see
    /// [`LogoutRequest::parse_unverified`]).
    pub fn parse_unverified(bytes: &[u8], limits: Limits) -> Result<LogoutResponse, Error> {
        let doc = xml::parse(bytes, limits)?;
        let root = doc.root_element();
        let (id, issue_instant, destination, issuer) = common(root, "LogoutResponse")?;
        let status = one_child(root, NS_PROTOCOL, "Status")?
            .and_then(|s| one_child(s, NS_PROTOCOL, "StatusCode").ok().flatten())
            .and_then(|c| xml::attr(c, "Value"))
            .ok_or_else(|| Error::Malformed("the LogoutResponse has no StatusCode".into()))?;
        Ok(LogoutResponse {
            id,
            issue_instant,
            destination,
            issuer,
            in_response_to: xml::attr(root, "InResponseTo")
                .ok_or_else(|| Error::Malformed("the LogoutResponse has no InResponseTo".into()))?
                .to_string(),
            status: status.to_string(),
        })
    }
}

type Parse<T> = fn(&[u8], Limits) -> Result<T, Error>;

/// Reads a message received by HTTP-Redirect once its query signature verifies.
fn read_redirect<T>(
    message: &RedirectMessage,
    certs: &[Certificate],
    policy: Policy,
    limits: Limits,
    parse: Parse<T>,
) -> Result<T, Error> {
    message.verify(certs, policy)?;
    parse(&message.xml, limits)
}

/// Reads a message received by HTTP-POST once the signature on its root verifies.
fn read_post<T>(
    bytes: &[u8],
    certs: &[Certificate],
    policy: Policy,
    limits: Limits,
    parse: Parse<T>,
) -> Result<T, Error> {
    let doc = xml::parse(bytes, limits)?;
    match dsig::verify(&doc, doc.root_element(), certs, policy)? {
        Some(_) => parse(bytes, limits),
        None => Err(Error::Unsigned),
    }
}
