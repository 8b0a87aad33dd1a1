//! SAML 2.0 metadata: reading an IdP's (Okta, Entra ID, ADFS shapes) and writing ours.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use roxmltree::Node;

use crate::certs::Certificate;
use crate::writer::Xml;
use crate::xml::{self, child_elements, children_named, is, Limits, NS_DSIG};
use crate::Error;

/// Namespace of SAML 2.0 metadata.
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// The HTTP-POST binding.
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// The HTTP-Redirect binding.
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// An endpoint of a given binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
}

/// What an IdP's metadata tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso: Vec<Endpoint>,
    pub slo: Vec<Endpoint>,
    /// Every signing certificate (a `KeyDescriptor` with `use="signing"` or no `use`).
    pub signing_certs: Vec<Certificate>,
    pub encryption_certs: Vec<Certificate>,
    pub name_id_formats: Vec<String>,
    /// Whether the document carries a signature (not verified here: metadata is uploaded by
    /// an admin over an authenticated channel).
    pub signed: bool,
}

impl IdpMetadata {
    /// The SSO endpoint for `binding`.
    pub fn sso_url(&self, binding: &str) -> Option<&str> {
        self.sso
            .iter()
            .find(|e| e.binding == binding)
            .map(|e| e.location.as_str())
    }
}

fn endpoints(descriptor: Node<'_, '_>, local: &str) -> Vec<Endpoint> {
    children_named(descriptor, NS_METADATA, local)
        .filter_map(|e| {
            Some(Endpoint {
                binding: xml::attr(e, "Binding")?.to_string(),
                location: xml::attr(e, "Location")?.to_string(),
            })
        })
        .collect()
}

/// Reads IdP metadata: an `EntityDescriptor`, or an `EntitiesDescriptor` holding exactly one
/// entity with an `IDPSSODescriptor`.
pub fn read_idp(bytes: &[u8], limits: Limits) -> Result<IdpMetadata, Error> {
    let doc = xml::parse(bytes, limits)?;
    let root = doc.root_element();
    let entity = if is(root, NS_METADATA, "EntityDescriptor") {
        root
    } else if is(root, NS_METADATA, "EntitiesDescriptor") {
        let idps: Vec<Node> = root
            .descendants()
            .filter(|n| is(*n, NS_METADATA, "EntityDescriptor"))
            .filter(|n| {
                children_named(*n, NS_METADATA, "IDPSSODescriptor")
                    .next()
                    .is_some()
            })
            .collect();
        match idps.as_slice() {
            [one] => *one,
            _ => {
                return Err(Error::Malformed(format!(
                    "the metadata describes {} identity providers; upload one",
                    idps.len()
                )))
            }
        }
    } else {
        return Err(Error::Malformed(
            "expected an EntityDescriptor (SAML 2.0 metadata)".into(),
        ));
    };
    let entity_id = xml::attr(entity, "entityID")
        .ok_or_else(|| Error::Malformed("the EntityDescriptor has no entityID".into()))?
        .to_string();
    let idp = xml::one_child(entity, NS_METADATA, "IDPSSODescriptor")?.ok_or_else(|| {
        Error::Malformed(
            "the metadata has no IDPSSODescriptor: is it an identity provider's?".into(),
        )
    })?;
    let mut signing_certs = Vec::new();
    let mut encryption_certs = Vec::new();
    for key in children_named(idp, NS_METADATA, "KeyDescriptor") {
        let certs = key
            .descendants()
            .filter(|n| is(*n, NS_DSIG, "X509Certificate"))
            .map(|c| {
                let text: String = xml::text(c)?
                    .chars()
                    .filter(|ch| !ch.is_whitespace())
                    .collect();
                let der = STANDARD
                    .decode(text)
                    .map_err(|_| Error::Certificate("an X509Certificate is not base64".into()))?;
                Certificate::parse(&der)
            })
            .collect::<Result<Vec<_>, _>>()?;
        match xml::attr(key, "use") {
            Some("encryption") => encryption_certs.extend(certs),
            Some("signing") | None => signing_certs.extend(certs),
            Some(other) => {
                return Err(Error::Malformed(format!(
                    "unknown KeyDescriptor use {other:?}"
                )))
            }
        }
    }
    if signing_certs.is_empty() {
        return Err(Error::Malformed(
            "the IdP metadata has no signing certificate".into(),
        ));
    }
    let name_id_formats = children_named(idp, NS_METADATA, "NameIDFormat")
        .map(|n| xml::text(n).map(|t| xml::trim(&t).to_string()))
        .collect::<Result<_, _>>()?;
    let signed = child_elements(entity).any(|n| is(n, NS_DSIG, "Signature"));
    Ok(IdpMetadata {
        entity_id,
        sso: endpoints(idp, "SingleSignOnService"),
        slo: endpoints(idp, "SingleLogoutService"),
        signing_certs,
        encryption_certs,
        name_id_formats,
        signed,
    })
}

/// What our own metadata says.
#[derive(Debug, Clone)]
pub struct SpMetadata<'a> {
    /// An `ID` for the document (needed to sign it).
    pub id: Option<&'a str>,
    pub entity_id: &'a str,
    /// The Assertion Consumer Service (HTTP-POST).
    pub acs_url: &'a str,
    /// Single logout, offered on both bindings.
    pub slo_url: Option<&'a str>,
    /// Our signing certificates: the current one, and the next one during a rotation.
    pub signing_certs: &'a [Certificate],
    /// Our encryption certificates, likewise.
    pub encryption_certs: &'a [Certificate],
    pub name_id_format: Option<&'a str>,
    pub authn_requests_signed: bool,
    pub want_assertions_signed: bool,
}

/// Writes SP metadata.
pub fn write_sp(sp: &SpMetadata<'_>) -> String {
    let mut x = Xml::new();
    x.open(
        "md:EntityDescriptor",
        &[
            ("xmlns:md", Some(NS_METADATA)),
            ("ID", sp.id),
            ("entityID", Some(sp.entity_id)),
        ],
    );
    x.open(
        "md:SPSSODescriptor",
        &[
            (
                "AuthnRequestsSigned",
                Some(if sp.authn_requests_signed {
                    "true"
                } else {
                    "false"
                }),
            ),
            (
                "WantAssertionsSigned",
                Some(if sp.want_assertions_signed {
                    "true"
                } else {
                    "false"
                }),
            ),
            (
                "protocolSupportEnumeration",
                Some("urn:oasis:names:tc:SAML:2.0:protocol"),
            ),
        ],
    );
    let keys = sp
        .signing_certs
        .iter()
        .map(|c| ("signing", c))
        .chain(sp.encryption_certs.iter().map(|c| ("encryption", c)));
    for (usage, cert) in keys {
        {
            x.open("md:KeyDescriptor", &[("use", Some(usage))]);
            x.open("ds:KeyInfo", &[("xmlns:ds", Some(NS_DSIG))]);
            x.open("ds:X509Data", &[]);
            x.leaf("ds:X509Certificate", &[], &STANDARD.encode(&cert.der));
            x.close("ds:X509Data")
                .close("ds:KeyInfo")
                .close("md:KeyDescriptor");
        }
    }
    if let Some(slo) = sp.slo_url {
        for binding in [BINDING_REDIRECT, BINDING_POST] {
            x.empty(
                "md:SingleLogoutService",
                &[("Binding", Some(binding)), ("Location", Some(slo))],
            );
        }
    }
    if let Some(format) = sp.name_id_format {
        x.leaf("md:NameIDFormat", &[], format);
    }
    x.empty(
        "md:AssertionConsumerService",
        &[
            ("Binding", Some(BINDING_POST)),
            ("Location", Some(sp.acs_url)),
            ("index", Some("0")),
            ("isDefault", Some("true")),
        ],
    );
    x.close("md:SPSSODescriptor").close("md:EntityDescriptor");
    x.finish()
}

/// Writes SP metadata signed with an enveloped signature (needs `sp.id`).
pub fn write_sp_signed(
    sp: &SpMetadata<'_>,
    key: &crate::signing::SigningKey,
) -> Result<String, Error> {
    if sp.id.is_none() {
        return Err(Error::Malformed("signed metadata needs an ID".into()));
    }
    crate::dsig::sign_enveloped(&write_sp(sp), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_metadata_reads_back() {
        let xml = write_sp(&SpMetadata {
            id: None,
            entity_id: "https://sp.example/saml",
            acs_url: "https://sp.example/saml",
            slo_url: Some("https://sp.example/saml/slo"),
            signing_certs: &[],
            encryption_certs: &[],
            name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
            authn_requests_signed: false,
            want_assertions_signed: true,
        });
        let doc = xml::parse(xml.as_bytes(), Limits::default()).unwrap();
        let sp = doc
            .descendants()
            .find(|n| is(*n, NS_METADATA, "SPSSODescriptor"))
            .unwrap();
        let acs = children_named(sp, NS_METADATA, "AssertionConsumerService")
            .next()
            .unwrap();
        assert_eq!(xml::attr(acs, "Location"), Some("https://sp.example/saml"));
        assert_eq!(xml::attr(acs, "Binding"), Some(BINDING_POST));
        assert_eq!(
            children_named(sp, NS_METADATA, "SingleLogoutService").count(),
            2
        );
        assert_eq!(
            doc.root_element().attribute("entityID"),
            Some("https://sp.example/saml")
        );
        // An SP's metadata is not an IdP's.
        assert!(read_idp(xml.as_bytes(), Limits::default()).is_err());
    }

    #[test]
    fn values_are_escaped() {
        let xml = write_sp(&SpMetadata {
            id: None,
            entity_id: "https://sp.example/saml?a=1&b=\"2\"",
            acs_url: "https://sp.example/<acs>",
            slo_url: None,
            signing_certs: &[],
            encryption_certs: &[],
            name_id_format: None,
            authn_requests_signed: true,
            want_assertions_signed: true,
        });
        let doc = xml::parse(xml.as_bytes(), Limits::default()).unwrap();
        assert_eq!(
            doc.root_element().attribute("entityID"),
            Some("https://sp.example/saml?a=1&b=\"2\"")
        );
    }
}
