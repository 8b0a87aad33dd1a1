//! XML-DSig verification, narrow by design. A signature is accepted only when:
//! it is the single `ds:Signature` child of the element being consumed; its `SignedInfo` holds
//! exactly one `Reference`, to `#` + that element's `ID`, which is unique in the document; the
//! transforms are exactly enveloped-signature then exclusive c14n; the algorithms are on the
//! allow-list; the digest (compared in constant time) and the signature both hold; and the key is
//! one of the connection's configured certificates (`KeyInfo` is never read).
//!
//! The result is a [`Verified`] handle to the element the signature covers. Readers take that
//! handle, never a node found by searching the document, so what is read is what was verified.

use aws_lc_rs::{constant_time, digest, signature};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use roxmltree::{Document, Node};

use crate::c14n::{self, EXC_C14N, EXC_C14N_WITH_COMMENTS};
use crate::certs::{Certificate, PublicKey};
use crate::xml;
use crate::xml::{child_elements, is, NS_DSIG};
use crate::Error;

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Which weaker algorithms a connection tolerates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// Accept SHA-1 digests and RSA-SHA1 signatures (some older IdPs still send them).
    pub allow_sha1: bool,
}

/// An element whose signature was verified against a configured certificate.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a, 'i> {
    node: Node<'a, 'i>,
    /// Signed by its own signature (not only through an enclosing, signed ciphertext).
    own: bool,
}

impl<'a, 'i> Verified<'a, 'i> {
    /// The verified element.
    pub fn node(&self) -> Node<'a, 'i> {
        self.node
    }

    /// An assertion decrypted from ciphertext that a verified Response signature covers.
    pub(crate) fn through_signed_ciphertext(node: Node<'a, 'i>) -> Verified<'a, 'i> {
        Verified { node, own: false }
    }

    /// Whether the element carries its own verified signature.
    pub fn is_own_signature(&self) -> bool {
        self.own
    }

    /// Whether `other` is the verified element or inside it (so covered by its signature).
    pub fn covers(&self, other: Node<'_, '_>) -> bool {
        other.ancestors().any(|a| a.id() == self.node.id())
    }
}

#[derive(Debug, Clone, Copy)]
enum DigestAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Debug, Clone, Copy)]
enum SignatureAlg {
    RsaSha1,
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

fn digest_alg(uri: &str, policy: Policy) -> Result<DigestAlg, Error> {
    match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(DigestAlg::Sha256),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Ok(DigestAlg::Sha384),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(DigestAlg::Sha512),
        "http://www.w3.org/2000/09/xmldsig#sha1" if policy.allow_sha1 => Ok(DigestAlg::Sha1),
        other => Err(Error::AlgorithmNotAllowed(format!("digest {other}"))),
    }
}

fn signature_alg(uri: &str, policy: Policy) -> Result<SignatureAlg, Error> {
    match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Ok(SignatureAlg::RsaSha256),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Ok(SignatureAlg::RsaSha384),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Ok(SignatureAlg::RsaSha512),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Ok(SignatureAlg::EcdsaSha256),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Ok(SignatureAlg::EcdsaSha384),
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" if policy.allow_sha1 => {
            Ok(SignatureAlg::RsaSha1)
        }
        other => Err(Error::AlgorithmNotAllowed(format!(
            "signature method {other}"
        ))),
    }
}

fn structure(message: &str) -> Error {
    Error::SignatureStructure(message.to_string())
}

/// The `Algorithm` attribute of an element.
fn algorithm<'a>(node: Node<'a, '_>) -> Result<&'a str, Error> {
    xml::attr(node, "Algorithm").ok_or_else(|| structure("an Algorithm attribute is missing"))
}

/// Element children of `node`, requiring exactly the names in `expected` (an entry ending in `?`
/// is optional) in that order, all in the XML-DSig namespace.
fn exact_children<'a, 'i>(
    node: Node<'a, 'i>,
    expected: &[&str],
) -> Result<Vec<Option<Node<'a, 'i>>>, Error> {
    let mut children = child_elements(node).peekable();
    let mut out = Vec::with_capacity(expected.len());
    for name in expected {
        let (local, optional) = match name.strip_suffix('?') {
            Some(local) => (local, true),
            None => (*name, false),
        };
        match children.peek() {
            Some(child) if is(*child, NS_DSIG, local) => out.push(children.next()),
            _ if optional => out.push(None),
            _ => {
                return Err(Error::SignatureStructure(format!(
                    "{} must contain {local}",
                    node.tag_name().name()
                )))
            }
        }
    }
    if let Some(extra) = children.next() {
        return Err(Error::SignatureStructure(format!(
            "unexpected {} inside {}",
            extra.tag_name().name(),
            node.tag_name().name()
        )));
    }
    Ok(out)
}

/// The `PrefixList` of an optional `ec:InclusiveNamespaces` child of a c14n method or transform;
/// any other child is refused.
fn inclusive_prefixes<'a>(method: Node<'a, '_>) -> Result<Vec<&'a str>, Error> {
    let mut prefixes = Vec::new();
    for child in child_elements(method) {
        if !is(child, NS_EXC_C14N, "InclusiveNamespaces") || !prefixes.is_empty() {
            return Err(structure(
                "a canonicalization method has unexpected content",
            ));
        }
        prefixes.extend(
            xml::attr(child, "PrefixList")
                .unwrap_or("")
                .split_whitespace(),
        );
        if prefixes.is_empty() {
            prefixes.push(""); // an empty list still counts as present
        }
    }
    prefixes.retain(|p| !p.is_empty());
    prefixes.sort_unstable();
    prefixes.dedup();
    // Real IdPs list a handful (`xs`, `#default`); a long list only costs verification time.
    if prefixes.len() > 16 {
        return Err(structure(
            "an InclusiveNamespaces PrefixList names more than 16 prefixes",
        ));
    }
    Ok(prefixes)
}

fn c14n_with_comments(uri: &str) -> Result<bool, Error> {
    match uri {
        EXC_C14N => Ok(false),
        EXC_C14N_WITH_COMMENTS => Ok(true),
        other => Err(Error::AlgorithmNotAllowed(format!(
            "canonicalization {other}"
        ))),
    }
}

/// Base64 content of `DigestValue` / `SignatureValue`. Whitespace (line wrapping, allowed by
/// `xs:base64Binary`) is skipped; comments, elements or non-base64 text are refused, so no two
/// readers can see two different values.
fn base64_value(node: Node<'_, '_>) -> Result<Vec<u8>, Error> {
    let mut text = String::new();
    for child in node.children() {
        if !child.is_text() {
            return Err(Error::SignatureStructure(format!(
                "{} must hold base64 text only",
                node.tag_name().name()
            )));
        }
        text.extend(
            child
                .text()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_ascii_whitespace()),
        );
    }
    STANDARD.decode(text.as_bytes()).map_err(|_| {
        Error::SignatureStructure(format!("{} is not valid base64", node.tag_name().name()))
    })
}

/// Every element carrying `value` as an `ID`, `Id` or `id` attribute.
fn elements_with_id<'a, 'i>(doc: &'a Document<'i>, value: &str) -> usize {
    doc.descendants()
        .filter(|n| n.is_element())
        .filter(|n| {
            ["ID", "Id", "id"]
                .iter()
                .any(|a| xml::attr(*n, a) == Some(value))
        })
        .count()
}

/// Verifies the signature of `element` against `certs`. `Ok(None)`: the element has no
/// signature (the caller decides whether that is acceptable).
pub fn verify<'a, 'i>(
    doc: &'a Document<'i>,
    element: Node<'a, 'i>,
    certs: &[Certificate],
    policy: Policy,
) -> Result<Option<Verified<'a, 'i>>, Error> {
    let mut signatures = child_elements(element).filter(|n| is(*n, NS_DSIG, "Signature"));
    let Some(sig) = signatures.next() else {
        return Ok(None);
    };
    if signatures.next().is_some() {
        return Err(structure("the element has more than one Signature"));
    }
    let parts = exact_children(sig, &["SignedInfo", "SignatureValue", "KeyInfo?"])?;
    let (signed_info, signature_value) = (parts[0].unwrap(), parts[1].unwrap());
    let info = exact_children(
        signed_info,
        &["CanonicalizationMethod", "SignatureMethod", "Reference"],
    )?;
    let (c14n_method, sig_method, reference) =
        (info[0].unwrap(), info[1].unwrap(), info[2].unwrap());

    // The one Reference must point at the element being consumed, by an ID nothing else has.
    let id = xml::attr(element, "ID")
        .ok_or_else(|| structure("the signed element has no ID attribute"))?;
    let uri = xml::attr(reference, "URI").unwrap_or("");
    if uri.strip_prefix('#') != Some(id) {
        return Err(Error::SignatureStructure(format!(
            "the signature references {uri:?}, not the element it sits in (#{id})"
        )));
    }
    if elements_with_id(doc, id) != 1 {
        return Err(Error::SignatureStructure(format!(
            "the ID {id:?} is not unique in the document"
        )));
    }
    let reference_parts =
        exact_children(reference, &["Transforms", "DigestMethod", "DigestValue"])?;
    let (transforms, digest_method, digest_value) = (
        reference_parts[0].unwrap(),
        reference_parts[1].unwrap(),
        reference_parts[2].unwrap(),
    );
    let transforms: Vec<Node> = child_elements(transforms).collect();
    if transforms.len() != 2
        || !transforms.iter().all(|t| is(*t, NS_DSIG, "Transform"))
        || algorithm(transforms[0])? != ENVELOPED
        || child_elements(transforms[0]).next().is_some()
    {
        return Err(structure(
            "the transforms must be exactly enveloped-signature then exclusive c14n",
        ));
    }
    // A bare-name reference ("#ID") drops comments, whichever exc-c14n variant follows.
    c14n_with_comments(algorithm(transforms[1])?)?;
    let reference_prefixes = inclusive_prefixes(transforms[1])?;
    let digest_alg = digest_alg(algorithm(digest_method)?, policy)?;
    if child_elements(digest_method).next().is_some() {
        return Err(structure("DigestMethod has unexpected content"));
    }
    let expected_digest = base64_value(digest_value)?;

    // SignedInfo, canonicalized as its method says, must be signed by a configured key.
    let info_options = c14n::Options {
        with_comments: c14n_with_comments(algorithm(c14n_method)?)?,
        inclusive_prefixes: inclusive_prefixes(c14n_method)?,
        exclude: None,
    };
    let sig_alg = signature_alg(algorithm(sig_method)?, policy)?;
    if child_elements(sig_method).next().is_some() {
        return Err(structure("SignatureMethod has unexpected content"));
    }
    let signed_bytes = c14n::canonicalize(doc, signed_info, &info_options);
    let signature_bytes = base64_value(signature_value)?;
    if !certs
        .iter()
        .any(|cert| verifies(sig_alg, &cert.public_key, &signed_bytes, &signature_bytes))
    {
        return Err(Error::UnknownSigner);
    }

    // The element, minus this signature, must digest to the signed value.
    let content_options = c14n::Options {
        with_comments: false,
        inclusive_prefixes: reference_prefixes,
        exclude: Some(sig.id()),
    };
    let content = c14n::canonicalize(doc, element, &content_options);
    let actual = digest::digest(
        match digest_alg {
            DigestAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            DigestAlg::Sha256 => &digest::SHA256,
            DigestAlg::Sha384 => &digest::SHA384,
            DigestAlg::Sha512 => &digest::SHA512,
        },
        &content,
    );
    #[allow(deprecated)]
    let same = constant_time::verify_slices_are_equal(actual.as_ref(), &expected_digest).is_ok();
    if !same {
        let signed = match element.tag_name().name() {
            "Response" => "Response",
            "Assertion" => "Assertion",
            "LogoutRequest" => "LogoutRequest",
            "LogoutResponse" => "LogoutResponse",
            "AuthnRequest" => "AuthnRequest",
            _ => "signed element",
        };
        return Err(Error::DigestMismatch { signed });
    }
    Ok(Some(Verified {
        node: element,
        own: true,
    }))
}

fn verifies(alg: SignatureAlg, key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    let (params, key): (&dyn signature::VerificationAlgorithm, &[u8]) = match (alg, key) {
        (SignatureAlg::RsaSha1, PublicKey::Rsa(k)) => {
            (&signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, k)
        }
        (SignatureAlg::RsaSha256, PublicKey::Rsa(k)) => (&signature::RSA_PKCS1_2048_8192_SHA256, k),
        (SignatureAlg::RsaSha384, PublicKey::Rsa(k)) => (&signature::RSA_PKCS1_2048_8192_SHA384, k),
        (SignatureAlg::RsaSha512, PublicKey::Rsa(k)) => (&signature::RSA_PKCS1_2048_8192_SHA512, k),
        (SignatureAlg::EcdsaSha256, PublicKey::EcP256(k)) => {
            (&signature::ECDSA_P256_SHA256_FIXED, k)
        }
        (SignatureAlg::EcdsaSha384, PublicKey::EcP384(k)) => {
            (&signature::ECDSA_P384_SHA384_FIXED, k)
        }
        _ => return false,
    };
    signature::UnparsedPublicKey::new(params, key)
        .verify(message, sig)
        .is_ok()
}

/// Signs the root element of `xml` (which must have an `ID` and no signature) with an
/// enveloped signature: exclusive c14n, SHA-256, placed after the `Issuer` as the SAML schema
/// requires.
pub fn sign_enveloped(xml: &str, key: &crate::signing::SigningKey) -> Result<String, Error> {
    let doc = crate::xml::parse(
        xml.as_bytes(),
        crate::xml::Limits {
            max_bytes: 1 << 20,
            ..Default::default()
        },
    )?;
    let root = doc.root_element();
    let id = xml::attr(root, "ID").ok_or_else(|| structure("the element to sign has no ID"))?;
    if child_elements(root).any(|n| is(n, NS_DSIG, "Signature")) {
        return Err(structure("the element is signed already"));
    }
    let content = c14n::canonicalize(&doc, root, &c14n::Options::default());
    let digest_value = STANDARD.encode(digest::digest(&digest::SHA256, &content));
    // Written in canonical form (explicit end tags, the one namespace declaration on the apex),
    // so these are exactly the bytes a verifier canonicalizes SignedInfo to.
    let signed_info = format!(
        "<ds:SignedInfo xmlns:ds=\"{NS_DSIG}\"><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod>\
         <ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod><ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"></ds:Transform><ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform>\
         </ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></ds:DigestMethod>\
         <ds:DigestValue>{digest_value}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        key.algorithm()
    );
    let signature_value = STANDARD.encode(key.sign(signed_info.as_bytes()));
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{NS_DSIG}\">{signed_info}<ds:SignatureValue>{signature_value}</ds:SignatureValue></ds:Signature>"
    );
    let at = match child_elements(root).next() {
        Some(first) if is(first, crate::xml::NS_ASSERTION, "Issuer") => first.range().end,
        _ => {
            let start = root.range().start;
            start
                + xml[start..]
                    .find('>')
                    .ok_or_else(|| structure("unterminated start tag"))?
                + 1
        }
    };
    Ok(format!("{}{}{}", &xml[..at], signature, &xml[at..]))
}
