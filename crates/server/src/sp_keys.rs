//! Each SSO connection's own keys toward its IdP: an RSA-2048 signing key (for AuthnRequests)
//! and an RSA-2048 encryption key (for the IdP to encrypt assertions to), each with a
//! self-signed certificate the SP metadata publishes. Made on first use and sealed under the
//! master key. During a rotation the next key is published beside the current one; the key a
//! rotation replaces still decrypts what was encrypted to it.

use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lanyard_saml::certs::Certificate;
use lanyard_saml::signing::SigningKey;
use lanyard_saml::xmlenc::DecryptionKey;
use lanyard_store::{SpKey, SsoConnection};

use crate::secrets::Secrets;
use crate::state::AppState;

/// Sealed under a purpose naming the connection and usage, so a sealed key copied into another
/// row (another connection, or the other usage) does not open.
fn seal_purpose(connection_id: &str, usage: &str) -> String {
    format!("sp-key {connection_id} {usage}")
}
pub const SIGNING: &str = "signing";
pub const ENCRYPTION: &str = "encryption";

/// The content-encryption algorithms a connection may pin, by the short names the API takes,
/// with their XML Encryption URIs.
pub const CONTENT_ENCRYPTION: &[(&str, &str)] = &[
    ("aes256-gcm", "http://www.w3.org/2009/xmlenc11#aes256-gcm"),
    ("aes128-gcm", "http://www.w3.org/2009/xmlenc11#aes128-gcm"),
    ("aes256-cbc", "http://www.w3.org/2001/04/xmlenc#aes256-cbc"),
    ("aes128-cbc", "http://www.w3.org/2001/04/xmlenc#aes128-cbc"),
];

/// The URI of a pinned algorithm's short name (an unknown name pins the default).
pub fn content_encryption_uri(name: &str) -> &'static str {
    CONTENT_ENCRYPTION
        .iter()
        .find(|(short, _)| *short == name)
        .unwrap_or(&CONTENT_ENCRYPTION[0])
        .1
}

/// A connection's keys, opened.
pub struct Keys {
    /// The current signing key.
    pub signing: SigningKey,
    /// Published with `use="signing"`: current, then next.
    pub signing_certs: Vec<Certificate>,
    /// Published with `use="encryption"`: current, then next.
    pub encryption_certs: Vec<Certificate>,
    /// Every encryption key kept (current, next, previous), for decryption.
    pub decryption: Vec<DecryptionKey>,
}

/// A new key for `usage` of `connection_id`, in `state`, sealed. RSA key generation takes a
/// while: it runs off the async threads.
pub async fn draft(
    secrets: &Secrets,
    connection_id: &str,
    usage: &str,
    state: &str,
) -> anyhow::Result<SpKey> {
    let (id, use_) = (connection_id.to_string(), usage.to_string());
    let (pkcs8, certificate) = tokio::task::spawn_blocking(move || generate(&id, &use_))
        .await
        .context("generating an SP key")??;
    Ok(SpKey {
        id: uuid::Uuid::now_v7().to_string(),
        connection_id: connection_id.to_string(),
        usage: usage.to_string(),
        state: state.to_string(),
        private_key: secrets.seal(&seal_purpose(connection_id, usage), &pkcs8),
        certificate: STANDARD.encode(certificate),
        created_at: lanyard_store::now_ms(),
    })
}

/// An RSA-2048 key (PKCS#8) and its self-signed certificate (DER), valid ten years.
fn generate(connection_id: &str, usage: &str) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let pair = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .context("generating an SP key")?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).context("SP certificate parameters")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("Lanyard SP {usage}"));
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, connection_id);
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![if usage == SIGNING {
        rcgen::KeyUsagePurpose::DigitalSignature
    } else {
        rcgen::KeyUsagePurpose::KeyEncipherment
    }];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(10 * 365);
    let certificate = params
        .self_signed(&pair)
        .context("signing the SP certificate")?;
    Ok((pair.serialize_der(), certificate.der().to_vec()))
}

/// The connection's keys, made first if it has none.
pub async fn keys_of(state: &AppState, connection: &SsoConnection) -> anyhow::Result<Keys> {
    let mut stored = state.store.sp_keys(&connection.id).await?;
    if stored.is_empty() {
        let drafts = [
            draft(&state.secrets, &connection.id, SIGNING, "current").await?,
            draft(&state.secrets, &connection.id, ENCRYPTION, "current").await?,
        ];
        stored = state
            .store
            .ensure_sp_keys(&connection.org_id, &connection.id, &drafts)
            .await?;
    }
    open(&state.secrets, &stored)
}

/// The keys that decrypt assertions to the connection, making none: a connection that never
/// published an encryption certificate cannot have been sent anything encrypted to one.
pub async fn decryption_keys(
    state: &AppState,
    connection: &SsoConnection,
) -> anyhow::Result<Vec<DecryptionKey>> {
    let stored = state.store.sp_keys(&connection.id).await?;
    if stored.is_empty() {
        return Ok(vec![]);
    }
    Ok(open(&state.secrets, &stored)?.decryption)
}

fn open(secrets: &Secrets, stored: &[SpKey]) -> anyhow::Result<Keys> {
    let mut signing = None;
    let (mut signing_certs, mut encryption_certs, mut decryption) = (vec![], vec![], vec![]);
    for key in stored {
        let pkcs8 = secrets
            .open(
                &seal_purpose(&key.connection_id, &key.usage),
                &key.private_key,
            )
            .context("an SP key does not open with this master key")?;
        let certificate = Certificate::parse(key.certificate.as_bytes())
            .map_err(|e| anyhow::anyhow!("a stored SP certificate is unreadable: {e}"))?;
        let published = key.state != "previous";
        match key.usage.as_str() {
            SIGNING => {
                if key.state == "current" {
                    signing = Some(
                        SigningKey::parse(&pkcs8)
                            .map_err(|e| anyhow::anyhow!("the SP signing key: {e}"))?,
                    );
                }
                if published {
                    signing_certs.push(certificate);
                }
            }
            _ => {
                decryption.push(
                    DecryptionKey::parse(&pkcs8)
                        .map_err(|e| anyhow::anyhow!("an SP encryption key: {e}"))?,
                );
                if published {
                    encryption_certs.push(certificate);
                }
            }
        }
    }
    Ok(Keys {
        signing: signing.context("the connection has no current SP signing key")?,
        signing_certs,
        encryption_certs,
        decryption,
    })
}
