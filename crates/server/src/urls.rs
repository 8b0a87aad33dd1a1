//! The deployment's public URL and every address built from it (issuer, endpoints, SAML
//! entity IDs), so each is spelled in one place.

use std::fmt;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
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
    /// The web origin (`scheme://host[:port]`) browsers name in `Origin` for these pages.
    pub fn origin(&self) -> &str {
        let after_scheme = self.0.find("://").map_or(0, |i| i + 3);
        match self.0[after_scheme..].find('/') {
            Some(i) => &self.0[..after_scheme + i],
            None => &self.0,
        }
    }

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

    /// The audience a connection's assertions must name and its requests are issued by: the
    /// ACS URL when the connection shares it (seed 000), its own entity ID otherwise.
    pub fn audience_of(&self, connection: &lanyard_store::SsoConnection) -> String {
        if connection.shared_audience {
            self.acs()
        } else {
            connection.sp_entity_id.clone()
        }
    }

    /// The key an assertion is spent under: its audience, and for the shared audience the
    /// organization too (several organizations' IdPs may issue to it).
    pub fn replay_audience_of(&self, connection: &lanyard_store::SsoConnection) -> String {
        if connection.shared_audience {
            format!("{}#{}", self.acs(), connection.org_id)
        } else {
            connection.sp_entity_id.clone()
        }
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

/// `redirect_uri` with `params` added to its query (RFC 6749 §4.1.2: the client's own query
/// components are kept).
pub fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // Everything but RFC 3986's unreserved characters.
    const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let mut url = redirect_uri.to_string();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    for (key, value) in params {
        url.push(separator);
        url.push_str(key);
        url.push('=');
        url.push_str(&utf8_percent_encode(value, QUERY_VALUE).to_string());
        separator = '&';
    }
    url
}

/// A 303 to `location`, never cached.
pub fn see_other(location: &str) -> Response {
    let mut response = axum::http::StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::PublicUrl;

    #[test]
    fn origin_is_scheme_host_port() {
        assert_eq!(
            PublicUrl::new("https://id.example.com").origin(),
            "https://id.example.com"
        );
        assert_eq!(
            PublicUrl::new("https://example.com:8443/lanyard").origin(),
            "https://example.com:8443"
        );
    }

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
