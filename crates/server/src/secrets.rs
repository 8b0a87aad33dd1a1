//! The deployment's master key, and everything derived from it: sealing secrets at rest
//! (AES-256-GCM) and hashing the high-entropy secrets we issue (HMAC-SHA256 under a pepper
//! derived from the master key). Human passwords use argon2id instead.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::{hkdf, hmac, rand};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use lanyard_store::Store;

/// The environment variable that carries the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "LANYARD_MASTER_KEY";
const MASTER_KEY_FILE: &str = "master.key";
const CHECK_PLAINTEXT: &[u8] = b"lanyard master key check v1";
const CHECK_PURPOSE: &str = "master-key-check";

/// SCIM tokens start with this.
pub const SCIM_TOKEN_PREFIX: &str = "lyt_";

/// Keys derived from the master key, held for the life of the process.
pub struct Secrets {
    seal_key: LessSafeKey,
    pepper: hmac::Key,
}

/// Where the master key came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

impl Secrets {
    fn from_bytes(bytes: &[u8]) -> anyhow::Result<Secrets> {
        if bytes.len() != 32 {
            bail!(
                "the master key must be 32 bytes (base64-encoded), got {} bytes",
                bytes.len()
            );
        }
        // Each use gets its own key, derived with HKDF-SHA256, so the encryption key and the
        // hashing pepper never share material and either can be rotated by its label.
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"lanyard master key").extract(bytes);
        let derive = |label: &[u8]| -> anyhow::Result<[u8; 32]> {
            let mut out = [0u8; 32];
            let info = [label];
            prk.expand(&info, hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut out))
                .map_err(|_| anyhow!("deriving a key from the master key failed"))?;
            Ok(out)
        };
        let seal_key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &derive(b"lanyard/v1/seal")?)
                .map_err(|_| anyhow!("unusable master key"))?,
        );
        let pepper = hmac::Key::new(hmac::HMAC_SHA256, &derive(b"lanyard/v1/secret-hash")?);
        Ok(Secrets { seal_key, pepper })
    }

    /// Loads the master key from the environment or `<data_dir>/master.key`, generating the file
    /// only when neither exists *and* the database holds nothing sealed under an earlier key.
    /// A key that does not open the database's check value stops start-up.
    pub async fn load(
        data_dir: &Path,
        env_value: Option<&str>,
        store: &Store,
    ) -> anyhow::Result<(Secrets, KeySource)> {
        let path = data_dir.join(MASTER_KEY_FILE);
        let stored_check = store
            .master_key_check()
            .await
            .context("reading the master-key check")?;
        let (secrets, source) = if let Some(value) = env_value {
            let bytes = STANDARD
                .decode(value.trim())
                .with_context(|| format!("{MASTER_KEY_ENV} is not valid base64"))?;
            (
                Secrets::from_bytes(&bytes)
                    .with_context(|| format!("{MASTER_KEY_ENV} is unusable"))?,
                KeySource::Environment,
            )
        } else if path.exists() {
            (read_key_file(&path)?, KeySource::File(path.clone()))
        } else if stored_check.is_some() {
            bail!(
                "this database holds secrets sealed under a master key, but no key was given: set \
                 {MASTER_KEY_ENV} or restore {} (a new key would make them unreadable, so none is made)",
                path.display()
            );
        } else {
            match generate_key_file(&path)? {
                Some(secrets) => (secrets, KeySource::Generated(path.clone())),
                // Another process created the file first: use that one.
                None => (read_key_file(&path)?, KeySource::File(path.clone())),
            }
        };
        let check = match stored_check {
            Some(check) => check,
            None if store.issued_secret_count().await? > 0 => bail!(
                "this database holds issued keys but no master-key check; refusing to adopt the key \
                 ({}) without proof it is the one they were made under",
                source.describe()
            ),
            None => store
                .init_master_key_check(&secrets.seal(CHECK_PURPOSE, CHECK_PLAINTEXT))
                .await
                .context("recording the master-key check")?,
        };
        match secrets.open(CHECK_PURPOSE, &check) {
            Some(plain) if plain == CHECK_PLAINTEXT => Ok((secrets, source)),
            _ => bail!(
                "the master key ({}) is not the one this database's secrets were sealed under; \
                 give the original key via {MASTER_KEY_ENV} or {}",
                source.describe(),
                path.display()
            ),
        }
    }

    /// Encrypts `plaintext` for storage; `purpose` binds the ciphertext to its use.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).expect("system random source");
        let mut buf = plaintext.to_vec();
        self.seal_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing cannot fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Decrypts what [`Secrets::seal`] made for the same purpose; `None` if it was not.
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .seal_key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }

    /// The stored form of an issued secret.
    pub fn hash_secret(&self, secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.pepper, secret.as_bytes()).as_ref())
    }

    /// Whether `secret` is the one `stored` was made from, compared in constant time.
    pub fn verify_secret(&self, secret: &str, stored: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(stored) {
            Ok(tag) => hmac::verify(&self.pepper, secret.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

impl KeySource {
    fn describe(&self) -> String {
        match self {
            KeySource::Environment => format!("from {MASTER_KEY_ENV}"),
            KeySource::File(p) => format!("from {}", p.display()),
            KeySource::Generated(p) => format!("newly generated at {}", p.display()),
        }
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<Secrets> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = STANDARD
        .decode(text.trim())
        .with_context(|| format!("{} is not valid base64", path.display()))?;
    Secrets::from_bytes(&bytes).with_context(|| format!("{} is unusable", path.display()))
}

/// Writes a new random key to `path` with mode 0600; `None` if the file appeared meanwhile.
fn generate_key_file(path: &Path) -> anyhow::Result<Option<Secrets>> {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes).map_err(|_| anyhow!("the system random source failed"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    writeln!(file, "{}", STANDARD.encode(bytes))
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Some(Secrets::from_bytes(&bytes)?))
}

/// A new random token: `prefix` followed by `bytes` random bytes in base64url.
pub fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf).expect("system random source");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(buf))
}

/// A new random identifier of `len` characters from a lowercase alphabet without look-alikes.
pub fn random_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut buf = vec![0u8; len];
    rand::fill(&mut buf).expect("system random source");
    // 256 is not a multiple of 31; the slight bias does not matter for identifiers that are not
    // secrets.
    let id: String = buf
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{id}")
}

/// Password hashes computed at once, at most: argon2id takes tens of milliseconds and 19 MiB
/// each, so a flood of sign-in attempts queues here instead of taking every core and memory.
/// One core is always left to everything else: a flood of password attempts (each checked even
/// for an unknown user) must not starve SCIM and sign-in.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
});

/// How long a password attempt waits for a turn before it is answered "busy".
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `work` (a password hash or check) on the blocking threads, a few at a time; `None`
/// when no turn came within a few seconds (the caller answers 503) or the work panicked.
pub async fn password_work<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let _permit = tokio::time::timeout(HASHING_WAIT, HASHING.acquire())
        .await
        .ok()?
        .ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// Hashes a human password with argon2id (slow on purpose; call off the async threads).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    rand::fill(&mut salt).map_err(|_| anyhow!("the system random source failed"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow!("salt: {e}"))?;
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow!("hashing the password: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a stored argon2 `hash`. With no hash (an unknown user, or one
/// without a password), a fixed hash of the same cost is checked instead and the answer is
/// no: both cases take as long as a wrong password, so timing tells nobody who exists.
/// Slow on purpose; call off the async threads.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    static STAND_IN: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password("no user has this password").unwrap_or_default());
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (STAND_IN.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn sealed_values_open_only_for_their_purpose_and_key() {
        let s = secrets();
        let sealed = s.seal("a", b"hello");
        assert_eq!(s.open("a", &sealed).as_deref(), Some(&b"hello"[..]));
        assert_eq!(s.open("b", &sealed), None);
        assert_eq!(
            Secrets::from_bytes(&[8u8; 32]).unwrap().open("a", &sealed),
            None
        );
        assert_ne!(s.seal("a", b"hello"), sealed, "nonces differ");
        assert_eq!(s.open("a", "short"), None);
    }

    #[test]
    fn secret_hashes_verify_only_the_same_secret() {
        let s = secrets();
        let h = s.hash_secret("token-1");
        assert!(s.verify_secret("token-1", &h));
        assert!(!s.verify_secret("token-2", &h));
        assert!(!s.verify_secret("token-1", "not base64!"));
        assert!(!Secrets::from_bytes(&[8u8; 32])
            .unwrap()
            .verify_secret("token-1", &h));
    }

    #[test]
    fn passwords_hash_with_argon2id() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&h)));
        assert!(!verify_password("wrong", Some(&h)));
        assert!(!verify_password("no user has this password", None));
        assert!(!verify_password("anything", Some("not a hash")));
    }

    /// A fresh SQLite store in its own folder, which also serves as the data directory.
    async fn fresh() -> (lanyard_store::testing::TestDb, Store) {
        let db = lanyard_store::testing::TestDb::new(lanyard_store::Backend::Sqlite)
            .await
            .unwrap();
        let store = Store::open(&db.url).await.unwrap();
        (db, store)
    }

    #[tokio::test]
    async fn first_start_generates_a_private_key_file_and_later_starts_reuse_it() {
        let (db, store) = fresh().await;
        let (first, source) = Secrets::load(db.dir.path(), None, &store).await.unwrap();
        let path = db.dir.path().join(MASTER_KEY_FILE);
        assert_eq!(source, KeySource::Generated(path.clone()));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let (again, source) = Secrets::load(db.dir.path(), None, &store).await.unwrap();
        assert_eq!(source, KeySource::File(path));
        assert_eq!(first.hash_secret("t"), again.hash_secret("t"));
    }

    #[tokio::test]
    async fn issued_keys_without_a_check_value_refuse_a_new_key() {
        let (db, store) = fresh().await;
        let audit = lanyard_store::AuditEvent::success("test", "operator_key.create");
        store
            .create_operator_key("op_1", "hash", &audit)
            .await
            .unwrap();
        let err = Secrets::load(db.dir.path(), None, &store)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("holds issued keys"), "{err}");
        assert!(
            store.master_key_check().await.unwrap().is_none(),
            "nothing recorded"
        );
    }

    #[tokio::test]
    async fn a_wrong_or_missing_key_is_refused_once_data_exists() {
        let (db, store) = fresh().await;
        Secrets::load(db.dir.path(), None, &store).await.unwrap();
        let wrong = STANDARD.encode([9u8; 32]);
        let err = Secrets::load(db.dir.path(), Some(&wrong), &store)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("is not the one"), "{err}");
        let err = Secrets::load(db.dir.path(), Some("not base64"), &store)
            .await
            .err()
            .expect("refused");
        assert!(format!("{err:#}").contains("base64"), "{err:#}");
        std::fs::remove_file(db.dir.path().join(MASTER_KEY_FILE)).unwrap();
        let err = Secrets::load(db.dir.path(), None, &store)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("no key was given"), "{err}");
        assert!(!db.dir.path().join(MASTER_KEY_FILE).exists());
    }

    #[test]
    fn wrong_length_keys_are_refused() {
        assert!(Secrets::from_bytes(&[1u8; 16]).is_err());
    }

    #[test]
    fn ids_and_tokens_have_their_prefix_and_length() {
        let id = random_id("lak_", 20);
        assert!(id.starts_with("lak_") && id.len() == 24);
        assert_ne!(random_token("x", 32), random_token("x", 32));
    }
}
