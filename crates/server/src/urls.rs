//! The deployment's public URL and every address built from it (issuer, endpoints, SAML
//! entity IDs), so each is spelled in one place.

use std::fmt;
use std::sync::Arc;

/// Where browsers, IdPs and apps reach this deployment: a base URL without a trailing slash.
/// Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(Arc<str>);

impl PublicUrl {
    pub fn new(base: &str) -> PublicUrl {
        PublicUrl(base.trim_end_matches('/').into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `path` (starting with `/`) at this deployment.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// Whether browsers reach it over https (and so keep `__Host-` and Secure cookies).
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The OpenID Connect issuer: the base URL itself.
    pub fn issuer(&self) -> &str {
        &self.0
    }

    /// The SCIM service provider's base, under which `/Users` and `/Groups` are.
    pub fn scim_base(&self) -> String {
        self.join("/scim/v2")
    }

    /// The Assertion Consumer Service: Destination and Recipient of every SAML Response.
    pub fn acs(&self) -> String {
        self.join("/saml")
    }

    /// Where an SSO connection's own SP metadata is served; also the connection's default
    /// SP entity ID.
    pub fn sp_metadata(&self, connection_id: &str) -> String {
        format!("{}{connection_id}", self.sp_metadata_prefix())
    }

    /// An SSO connection's SP entity ID unless the IdP needs another: its metadata's address,
    /// so an IdP that reads metadata from the entity ID finds it.
    pub fn default_sp_entity_id(&self, connection_id: &str) -> String {
        self.sp_metadata(connection_id)
    }

    /// What every [`PublicUrl::sp_metadata`] address starts with.
    pub fn sp_metadata_prefix(&self) -> String {
        self.join("/saml/")
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::PublicUrl;

    #[test]
    fn addresses_hang_off_the_base_without_doubled_slashes() {
        let url = PublicUrl::new("https://id.example.com/");
        assert_eq!(url.as_str(), "https://id.example.com");
        assert_eq!(url.issuer(), "https://id.example.com");
        assert_eq!(url.join("/auth/token"), "https://id.example.com/auth/token");
        assert_eq!(url.scim_base(), "https://id.example.com/scim/v2");
        assert_eq!(url.acs(), "https://id.example.com/saml");
        assert_eq!(url.sp_metadata("c1"), "https://id.example.com/saml/c1");
        assert_eq!(url.sp_metadata_prefix(), "https://id.example.com/saml/");
        assert_eq!(url.to_string(), "https://id.example.com");
        assert!(url.is_https());
        assert!(!PublicUrl::new("http://localhost:8080").is_https());
    }
}
