//! The HTTP-Redirect binding (SAML bindings §3.4): DEFLATE, base64 and URL encoding, with the
//! signature over the query string; and its decoding, with inflation capped so a small query
//! cannot expand into a huge document.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::certs::{Certificate, PublicKey};
use crate::dsig::Policy;
use crate::signing::SigningKey;
use crate::xml::Limits;
use crate::Error;

/// Characters left as they are in query values (RFC 3986 unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Whether a message is a request or a response (the query parameter it travels in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
}

impl Kind {
    fn parameter(self) -> &'static str {
        match self {
            Kind::Request => "SAMLRequest",
            Kind::Response => "SAMLResponse",
        }
    }
}

/// The URL that carries `xml` to `destination` by HTTP-Redirect, signed when `key` is given.
pub fn redirect_url(
    destination: &str,
    kind: Kind,
    xml: &str,
    relay_state: Option<&str>,
    key: Option<&SigningKey>,
) -> String {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(xml.as_bytes())
        .expect("deflating in memory");
    let deflated = encoder.finish().expect("deflating in memory");
    let mut query = format!(
        "{}={}",
        kind.parameter(),
        utf8_percent_encode(&STANDARD.encode(deflated), QUERY)
    );
    if let Some(state) = relay_state {
        query.push_str(&format!(
            "&RelayState={}",
            utf8_percent_encode(state, QUERY)
        ));
    }
    if let Some(key) = key {
        query.push_str(&format!(
            "&SigAlg={}",
            utf8_percent_encode(key.algorithm(), QUERY)
        ));
        let signature = STANDARD.encode(key.sign(query.as_bytes()));
        query.push_str(&format!(
            "&Signature={}",
            utf8_percent_encode(&signature, QUERY)
        ));
    }
    let separator = if destination.contains('?') { '&' } else { '?' };
    format!("{destination}{separator}{query}")
}

/// A message received by HTTP-Redirect, before its signature is checked.
#[derive(Debug, Clone)]
pub struct RedirectMessage {
    pub kind: Kind,
    /// The inflated XML.
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
    signature: Option<(String, Vec<u8>)>,
    /// The query as received, in the order the signature covers.
    signed_octets: String,
}

/// Inflates raw DEFLATE data, refusing output beyond `limit` bytes.
pub fn inflate(data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let read = DeflateDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| Error::Encoding("the message is not valid DEFLATE data".into()))?;
    if read > limit {
        return Err(Error::TooLarge { limit });
    }
    Ok(out)
}

/// Decodes the query string of an HTTP-Redirect request (without the leading `?`).
pub fn decode_redirect(query: &str, limits: Limits) -> Result<RedirectMessage, Error> {
    let mut message = None;
    let (mut relay, mut sig_alg, mut signature) = (None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(&raw.replace('+', " "))
            .decode_utf8()
            .map_err(|_| Error::Encoding(format!("{name} is not valid UTF-8")))?
            .into_owned();
        let slot = match name {
            "SAMLRequest" => (Kind::Request, true),
            "SAMLResponse" => (Kind::Response, true),
            _ => (Kind::Request, false),
        };
        let duplicate = match name {
            "SAMLRequest" | "SAMLResponse" => {
                message.replace((slot.0, value, pair.to_string())).is_some()
            }
            "RelayState" => relay.replace((value, pair.to_string())).is_some(),
            "SigAlg" => sig_alg.replace((value, pair.to_string())).is_some(),
            "Signature" => signature.replace(value).is_some(),
            _ => false,
        };
        if duplicate {
            return Err(Error::Encoding(format!("{name} appears twice")));
        }
    }
    let (kind, encoded, message_pair) =
        message.ok_or_else(|| Error::Encoding("no SAMLRequest or SAMLResponse".into()))?;
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.len() > limits.max_bytes * 2 {
        return Err(Error::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let deflated = STANDARD
        .decode(compact)
        .map_err(|_| Error::Encoding("the message is not valid base64".into()))?;
    let xml = inflate(&deflated, limits.max_bytes)?;
    // The signed octets are the parameters as received, in the binding's fixed order.
    let mut signed_octets = message_pair;
    if let Some((_, pair)) = &relay {
        signed_octets.push('&');
        signed_octets.push_str(pair);
    }
    if let Some((_, pair)) = &sig_alg {
        signed_octets.push('&');
        signed_octets.push_str(pair);
    }
    let signature = match (sig_alg, signature) {
        (Some((alg, _)), Some(sig)) => {
            let bytes = STANDARD
                .decode(
                    sig.chars()
                        .filter(|c| !c.is_ascii_whitespace())
                        .collect::<String>(),
                )
                .map_err(|_| Error::Encoding("Signature is not valid base64".into()))?;
            Some((alg, bytes))
        }
        (None, None) => None,
        _ => {
            return Err(Error::Encoding(
                "SigAlg and Signature must come together".into(),
            ))
        }
    };
    Ok(RedirectMessage {
        kind,
        xml,
        relay_state: relay.map(|(v, _)| v),
        signature,
        signed_octets,
    })
}

impl RedirectMessage {
    /// Whether the query carried a signature.
    pub fn is_signed(&self) -> bool {
        self.signature.is_some()
    }

    /// Checks the query-string signature against the IdP's certificates.
    pub fn verify(&self, certs: &[Certificate], policy: Policy) -> Result<(), Error> {
        let (alg, sig) = self.signature.as_ref().ok_or(Error::Unsigned)?;
        use aws_lc_rs::signature as s;
        let verifies = |key: &PublicKey| -> Result<bool, Error> {
            let (params, bytes): (&dyn s::VerificationAlgorithm, &[u8]) = match (alg.as_str(), key)
            {
                ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", PublicKey::Rsa(k)) => {
                    (&s::RSA_PKCS1_2048_8192_SHA256, k)
                }
                ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", PublicKey::Rsa(k)) => {
                    (&s::RSA_PKCS1_2048_8192_SHA384, k)
                }
                ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", PublicKey::Rsa(k)) => {
                    (&s::RSA_PKCS1_2048_8192_SHA512, k)
                }
                ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", PublicKey::Rsa(k))
                    if policy.allow_sha1 =>
                {
                    (&s::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, k)
                }
                ("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", PublicKey::EcP256(k)) => {
                    (&s::ECDSA_P256_SHA256_FIXED, k)
                }
                ("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", PublicKey::EcP384(k)) => {
                    (&s::ECDSA_P384_SHA384_FIXED, k)
                }
                (
                    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
                    | "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
                    | "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
                    | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
                    | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
                    _,
                ) => return Ok(false),
                (other, _) => {
                    return Err(Error::AlgorithmNotAllowed(format!(
                        "signature method {other}"
                    )))
                }
            };
            Ok(s::UnparsedPublicKey::new(params, bytes)
                .verify(self.signed_octets.as_bytes(), sig)
                .is_ok())
        };
        for cert in certs {
            if verifies(&cert.public_key)? {
                return Ok(());
            }
        }
        Err(Error::UnknownSigner)
    }
}
