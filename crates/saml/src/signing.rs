//! Our own signatures: the SP's key signing AuthnRequests and logout messages, enveloped
//! (HTTP-POST) or over the query string (HTTP-Redirect).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::Error;

/// Signature method URIs we sign with.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// The SP's signing key (RSA or ECDSA P-256, PKCS#8).
pub enum SigningKey {
    Rsa(RsaKeyPair),
    EcP256(EcdsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SigningKey::Rsa(_) => "SigningKey::Rsa(..)",
            SigningKey::EcP256(_) => "SigningKey::EcP256(..)",
        })
    }
}

/// PKCS#8 DER from PEM (`BEGIN PRIVATE KEY`) or DER input.
pub(crate) fn pkcs8_der(input: &[u8]) -> Result<Vec<u8>, Error> {
    match std::str::from_utf8(input).ok().map(str::trim) {
        Some(t) if t.starts_with("-----BEGIN PRIVATE KEY-----") => {
            let body: String = t
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
                .collect();
            STANDARD
                .decode(body)
                .map_err(|_| Error::Certificate("the private key PEM is not valid base64".into()))
        }
        Some(t) if t.starts_with("-----BEGIN") => Err(Error::Certificate(
            "the private key must be PKCS#8 (BEGIN PRIVATE KEY)".into(),
        )),
        _ => Ok(input.to_vec()),
    }
}

impl SigningKey {
    /// Reads an RSA or ECDSA P-256 private key in PKCS#8 (PEM or DER).
    pub fn parse(input: &[u8]) -> Result<SigningKey, Error> {
        let der = pkcs8_der(input)?;
        if let Ok(rsa) = RsaKeyPair::from_pkcs8(&der) {
            return Ok(SigningKey::Rsa(rsa));
        }
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map(SigningKey::EcP256)
            .map_err(|_| Error::Certificate("not an RSA or ECDSA P-256 PKCS#8 private key".into()))
    }

    /// The signature method URI of this key.
    pub fn algorithm(&self) -> &'static str {
        match self {
            SigningKey::Rsa(_) => RSA_SHA256,
            SigningKey::EcP256(_) => ECDSA_SHA256,
        }
    }

    /// Signs `message` (XML-DSig formats: PKCS#1 v1.5 for RSA, r‖s for ECDSA).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            SigningKey::Rsa(key) => {
                let mut sig = vec![0u8; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .expect("RSA signing in memory");
                sig
            }
            SigningKey::EcP256(key) => key
                .sign(&rng, message)
                .expect("ECDSA signing in memory")
                .as_ref()
                .to_vec(),
        }
    }

    /// The public key bytes (for tests and metadata checks).
    pub fn public_key(&self) -> Vec<u8> {
        match self {
            SigningKey::Rsa(key) => key.public_key().as_ref().to_vec(),
            SigningKey::EcP256(key) => key.public_key().as_ref().to_vec(),
        }
    }
}
