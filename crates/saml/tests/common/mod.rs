//! Loads the fixtures in tests/fixtures (made by tests/fixtures/generate.py with real signing
//! code) and builds the connection each one is meant for.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use lanyard_saml::certs::Certificate;
use lanyard_saml::dsig::Policy;
use lanyard_saml::response::{Connection, Expected, DEFAULT_CLOCK_SKEW_MS};
use lanyard_saml::xml::Limits;
use lanyard_saml::xmlenc::DecryptionKey;
use serde_json::Value;

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub struct Fixture {
    pub name: String,
    pub xml: String,
    pub params: Value,
    pub certs: Vec<Certificate>,
    pub decryption_keys: Vec<DecryptionKey>,
}

impl Fixture {
    pub fn load(name: &str) -> Fixture {
        let base = dir().join(name);
        let xml = std::fs::read_to_string(base.join("response.xml"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let params: Value =
            serde_json::from_slice(&std::fs::read(base.join("params.json")).unwrap()).unwrap();
        let certs = params["trusted_certs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| cert(c.as_str().unwrap()))
            .collect();
        let decryption_keys = params["sp_decryption_key"]
            .as_str()
            .map(|k| {
                vec![
                    DecryptionKey::parse(&std::fs::read(dir().join("keys").join(k)).unwrap())
                        .unwrap(),
                ]
            })
            .unwrap_or_default();
        Fixture {
            name: name.to_string(),
            xml,
            params,
            certs,
            decryption_keys,
        }
    }

    pub fn str(&self, key: &str) -> &str {
        self.params[key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: params.{key}", self.name))
    }

    pub fn now_ms(&self) -> i64 {
        lanyard_saml::time::parse(self.str("now"), "now").unwrap()
    }

    pub fn connection(&self) -> Connection<'_> {
        Connection {
            sp_entity_id: self.str("sp_entity_id"),
            acs_url: self.str("acs_url"),
            idp_issuer: self.str("issuer"),
            certificates: &self.certs,
            policy: Policy::default(),
            allow_idp_initiated: false,
            allow_expired_certificate: false,
            clock_skew_ms: DEFAULT_CLOCK_SKEW_MS,
            limits: Limits::default(),
            decryption_keys: &self.decryption_keys,
            require_encryption: false,
            content_encryption: None,
        }
    }

    pub fn expected(&self) -> Expected<'_> {
        Expected::Request(self.str("in_response_to"))
    }
}

/// A certificate from tests/fixtures/keys by file name.
pub fn cert(file: &str) -> Certificate {
    let bytes =
        std::fs::read(dir().join("keys").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    Certificate::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"))
}
