//! XML-Enc for `EncryptedAssertion`: RSA-OAEP key transport (MGF1-SHA1, or SHA-256 with
//! MGF1-SHA-256; RSA 1.5 refused) and AES-GCM or AES-CBC content, decrypted with the SP's key.
//! Every failure after the algorithms are known is the same [`Error::Decryption`], so a
//! response can never be used as a padding or decryption oracle.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{DecryptingKey, DecryptionContext, UnboundCipherKey, AES_128, AES_256};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1,
    OAEP_SHA256_MGF1SHA256,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use roxmltree::Node;

use crate::xml;
use crate::xml::{child_elements, is, one_child, NS_DSIG, NS_XENC};
use crate::Error;

const NS_XENC11: &str = "http://www.w3.org/2009/xmlenc11#";

/// The SP's private key for decrypting assertions.
pub struct DecryptionKey {
    key: OaepPrivateDecryptingKey,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecryptionKey(..)")
    }
}

impl DecryptionKey {
    /// Reads an RSA private key in PKCS#8, PEM (`BEGIN PRIVATE KEY`) or DER.
    pub fn parse(input: &[u8]) -> Result<DecryptionKey, Error> {
        let der = crate::signing::pkcs8_der(input)?;
        let key = PrivateDecryptingKey::from_pkcs8(&der)
            .map_err(|e| Error::Certificate(format!("not an RSA PKCS#8 private key: {e}")))?;
        let key = OaepPrivateDecryptingKey::new(key)
            .map_err(|_| Error::Certificate("unusable RSA key".into()))?;
        Ok(DecryptionKey { key })
    }
}

#[derive(Debug, Clone, Copy)]
enum Content {
    Gcm { key_len: usize },
    Cbc { key_len: usize },
}

fn content_algorithm(uri: &str) -> Result<Content, Error> {
    match uri {
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Ok(Content::Gcm { key_len: 16 }),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Ok(Content::Gcm { key_len: 32 }),
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Ok(Content::Cbc { key_len: 16 }),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Ok(Content::Cbc { key_len: 32 }),
        other => Err(Error::AlgorithmNotAllowed(format!(
            "content encryption {other}"
        ))),
    }
}

fn key_transport(method: Node<'_, '_>) -> Result<&'static OaepAlgorithm, Error> {
    let digest =
        one_child(method, NS_DSIG, "DigestMethod")?.and_then(|d| xml::attr(d, "Algorithm"));
    let mgf = one_child(method, NS_XENC11, "MGF")?.and_then(|m| xml::attr(m, "Algorithm"));
    if one_child(method, NS_XENC, "OAEPparams")?.is_some() {
        return Err(Error::AlgorithmNotAllowed(
            "RSA-OAEP with OAEPparams".into(),
        ));
    }
    const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
    const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
    match (
        xml::attr(method, "Algorithm").unwrap_or_default(),
        digest,
        mgf,
    ) {
        ("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", None | Some(SHA1), None) => {
            Ok(&OAEP_SHA1_MGF1SHA1)
        }
        ("http://www.w3.org/2009/xmlenc11#rsa-oaep", None | Some(SHA1), None | Some(MGF1_SHA1)) => {
            Ok(&OAEP_SHA1_MGF1SHA1)
        }
        ("http://www.w3.org/2009/xmlenc11#rsa-oaep", Some(SHA256), Some(MGF1_SHA256)) => {
            Ok(&OAEP_SHA256_MGF1SHA256)
        }
        (alg, digest, mgf) => Err(Error::AlgorithmNotAllowed(format!(
            "key transport {alg} (digest {}, mask {})",
            digest.unwrap_or("default"),
            mgf.unwrap_or("default")
        ))),
    }
}

fn cipher_value(node: Node<'_, '_>) -> Result<Vec<u8>, Error> {
    let data = one_child(node, NS_XENC, "CipherData")?.ok_or(Error::Decryption)?;
    let value = one_child(data, NS_XENC, "CipherValue")?.ok_or(Error::Decryption)?;
    let text: String = crate::xml::text(value)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD.decode(text).map_err(|_| Error::Decryption)
}

/// Decrypts an `EncryptedAssertion` into the assertion's XML bytes. With `only`, the content
/// must be encrypted with that algorithm URI (a connection's pinned one), checked before any
/// key is used.
pub fn decrypt_assertion(
    encrypted: Node<'_, '_>,
    keys: &[DecryptionKey],
    only: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let data = one_child(encrypted, NS_XENC, "EncryptedData")?
        .ok_or_else(|| Error::Malformed("the EncryptedAssertion has no EncryptedData".into()))?;
    let method = one_child(data, NS_XENC, "EncryptionMethod")?
        .ok_or_else(|| Error::Malformed("the EncryptedData has no EncryptionMethod".into()))?;
    let algorithm = xml::attr(method, "Algorithm").unwrap_or_default();
    if let Some(pinned) = only.filter(|pinned| *pinned != algorithm) {
        return Err(Error::AlgorithmNotAllowed(format!(
            "content encryption {algorithm}; this connection takes only {pinned}"
        )));
    }
    let content = content_algorithm(algorithm)?;
    // The wrapped key sits in the EncryptedData's KeyInfo, or beside it (some IdPs).
    let in_key_info = one_child(data, NS_DSIG, "KeyInfo")?
        .and_then(|ki| child_elements(ki).find(|n| is(*n, NS_XENC, "EncryptedKey")));
    let encrypted_key = match in_key_info {
        Some(k) => k,
        None => one_child(encrypted, NS_XENC, "EncryptedKey")?
            .ok_or_else(|| Error::Malformed("no EncryptedKey for the EncryptedAssertion".into()))?,
    };
    let key_method = one_child(encrypted_key, NS_XENC, "EncryptionMethod")?
        .ok_or_else(|| Error::Malformed("the EncryptedKey has no EncryptionMethod".into()))?;
    let oaep = key_transport(key_method)?;

    let wrapped = cipher_value(encrypted_key)?;
    let ciphertext = cipher_value(data)?;
    if keys.is_empty() {
        return Err(Error::Decryption);
    }
    // Every key is tried whatever happens, so how long this takes tells nothing of which key
    // (or whether any) opened the content.
    let mut opened = None;
    for key in keys {
        let plain = decrypt_with(key, oaep, content, &wrapped, &ciphertext);
        if opened.is_none() {
            opened = plain;
        }
    }
    opened.ok_or(Error::Decryption)
}

fn decrypt_with(
    key: &DecryptionKey,
    oaep: &'static OaepAlgorithm,
    content: Content,
    wrapped: &[u8],
    ciphertext: &[u8],
) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; key.key.min_output_size()];
    let content_key = key.key.decrypt(oaep, wrapped, &mut buf, None).ok()?;
    match content {
        Content::Gcm { key_len } => {
            if content_key.len() != key_len || ciphertext.len() < 12 + 16 {
                return None;
            }
            let alg = if key_len == 16 {
                &aead::AES_128_GCM
            } else {
                &aead::AES_256_GCM
            };
            let key = LessSafeKey::new(UnboundKey::new(alg, content_key).ok()?);
            let (iv, body) = ciphertext.split_at(12);
            let nonce = Nonce::try_assume_unique_for_key(iv).ok()?;
            let mut body = body.to_vec();
            let plain = key.open_in_place(nonce, Aad::empty(), &mut body).ok()?;
            Some(plain.to_vec())
        }
        Content::Cbc { key_len } => {
            if content_key.len() != key_len || ciphertext.len() < 32 || ciphertext.len() % 16 != 0 {
                return None;
            }
            let alg = if key_len == 16 { &AES_128 } else { &AES_256 };
            let key = DecryptingKey::cbc(UnboundCipherKey::new(alg, content_key).ok()?).ok()?;
            let (iv, body) = ciphertext.split_at(16);
            let iv: [u8; 16] = iv.try_into().ok()?;
            let mut body = body.to_vec();
            let plain = key
                .decrypt(&mut body, DecryptionContext::Iv128(FixedLength::from(iv)))
                .ok()?;
            // XML-Enc padding: the last byte says how many bytes to drop (1–16); the others are
            // arbitrary, so unlike PKCS#7 they are not checked.
            let pad = usize::from(*plain.last()?);
            if pad == 0 || pad > 16 || pad > plain.len() {
                return None;
            }
            let end = plain.len() - pad;
            Some(plain[..end].to_vec())
        }
    }
}
