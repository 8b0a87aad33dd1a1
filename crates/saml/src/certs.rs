//! IdP certificates as admins provide them: PEM, bare base64 without the BEGIN/END lines (some
//! vendor guides tell admins to save them that way), or DER.

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use x509_parser::prelude::*;

use crate::Error;

/// The public key of a certificate, in the form the verifier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// DER `RSAPublicKey`.
    Rsa(Vec<u8>),
    /// An uncompressed point on P-256.
    EcP256(Vec<u8>),
    /// An uncompressed point on P-384.
    EcP384(Vec<u8>),
}

/// A parsed X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    /// Hexadecimal serial number.
    pub serial: String,
    /// SHA-256 of the DER, as colon-separated uppercase hex (how admin consoles show it).
    pub fingerprint_sha256: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    pub public_key: PublicKey,
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

impl Certificate {
    /// Reads a certificate from PEM, bare base64 or DER.
    pub fn parse(input: &[u8]) -> Result<Certificate, Error> {
        let text = std::str::from_utf8(input).ok().map(str::trim);
        let der = match text {
            Some(t) if t.starts_with("-----BEGIN") => {
                let (_, pem) = x509_parser::pem::parse_x509_pem(t.as_bytes())
                    .map_err(|e| Error::Certificate(format!("not a PEM certificate: {e}")))?;
                if pem.label != "CERTIFICATE" {
                    return Err(Error::Certificate(format!(
                        "expected a CERTIFICATE, got a {}",
                        pem.label
                    )));
                }
                pem.contents
            }
            Some(t) => {
                let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                STANDARD
                    .decode(compact)
                    .map_err(|_| Error::Certificate("neither PEM, base64 nor DER".into()))?
            }
            None => input.to_vec(),
        };
        Certificate::from_der(der)
    }

    fn from_der(der: Vec<u8>) -> Result<Certificate, Error> {
        let (rest, cert) = X509Certificate::from_der(&der)
            .map_err(|e| Error::Certificate(format!("not an X.509 certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(Error::Certificate(
                "trailing bytes after the certificate".into(),
            ));
        }
        let spki = cert.public_key();
        let key_bytes = spki.subject_public_key.data.to_vec();
        let public_key = match spki.algorithm.algorithm.to_id_string().as_str() {
            OID_RSA => PublicKey::Rsa(key_bytes),
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                match curve.as_str() {
                    OID_P256 => PublicKey::EcP256(key_bytes),
                    OID_P384 => PublicKey::EcP384(key_bytes),
                    other => {
                        return Err(Error::Certificate(format!(
                            "unsupported elliptic curve {other}"
                        )))
                    }
                }
            }
            other => {
                return Err(Error::Certificate(format!(
                    "unsupported key algorithm {other}"
                )))
            }
        };
        let fingerprint = digest::digest(&digest::SHA256, &der);
        let fingerprint_sha256 = fingerprint
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(Certificate {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string().replace(':', ""),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            fingerprint_sha256,
            public_key,
            der,
        })
    }

    /// Refuses a certificate outside its validity at `now` (unix seconds), unless `allow_expired`.
    pub fn check_validity(&self, now: i64, allow_expired: bool) -> Result<(), Error> {
        if now > self.not_after && !allow_expired {
            return Err(Error::CertificateExpired {
                subject: self.subject.clone(),
                not_after: crate::time::format(self.not_after),
            });
        }
        Ok(())
    }
}
