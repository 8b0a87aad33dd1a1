//! The key ID tokens are signed with: RSA-2048 with RS256, which OpenID Connect Discovery
//! requires every provider to offer. Made once per deployment, sealed under the master key.
//!
//! The JWS compact form (RFC 7515 §7.1) is assembled here — two base64url segments joined by
//! dots — because jsonwebtoken's aws-lc backend takes RSA keys only as PKCS#1 DER, which
//! aws-lc-rs does not export; the signature itself is aws-lc-rs's RSASSA-PKCS1-v1_5/SHA-256.
//! Tests verify the tokens with jsonwebtoken.

use anyhow::Context;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lanyard_store::{SigningKey, Store};
use serde_json::{json, Map, Value};

use crate::secrets::Secrets;

const SEAL_PURPOSE: &str = "id-token-signing-key";

/// The signing key in use and the public keys relying parties may meet.
pub struct IdTokenKeys {
    kid: String,
    pair: KeyPair,
    jwks: Value,
}

impl IdTokenKeys {
    /// Loads the deployment's keys, making the first one if there is none.
    pub async fn load_or_create(store: &Store, secrets: &Secrets) -> anyhow::Result<IdTokenKeys> {
        let mut keys = store.signing_keys().await?;
        if keys.is_empty() {
            let pair = KeyPair::generate(KeySize::Rsa2048).context("generating a signing key")?;
            let pkcs8 = pair.as_der().context("encoding the signing key")?;
            let kid = uuid::Uuid::new_v4().simple().to_string();
            let draft = SigningKey {
                public_jwk: public_jwk(&kid, &pair).to_string(),
                private_key: secrets.seal(SEAL_PURPOSE, pkcs8.as_ref()),
                id: kid,
                algorithm: "RS256".into(),
                created_at: lanyard_store::now_ms(),
            };
            keys = store.ensure_signing_key(&draft).await?;
        }
        let newest = keys.first().context("no signing key was stored")?;
        let pkcs8 = secrets
            .open(SEAL_PURPOSE, &newest.private_key)
            .context("the ID-token signing key does not open with this master key")?;
        let pair = KeyPair::from_pkcs8(&pkcs8)
            .map_err(|e| anyhow::anyhow!("the stored ID-token signing key is unreadable: {e}"))?;
        let jwks = keys
            .iter()
            .map(|k| serde_json::from_str(&k.public_jwk))
            .collect::<Result<Vec<Value>, _>>()
            .context("a stored public key is unreadable")?;
        Ok(IdTokenKeys {
            kid: newest.id.clone(),
            pair,
            jwks: json!({ "keys": jwks }),
        })
    }

    /// The JWK Set published at `/auth/jwks`.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// A signed JWT carrying `claims`.
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let mut token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .expect("RSA signing with a loaded key cannot fail");
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        token
    }
}

fn public_jwk(kid: &str, pair: &KeyPair) -> Value {
    let public = pair.public_key();
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    })
}
