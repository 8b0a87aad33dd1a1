//! A stored version as an HTTP entity tag (the weak ETag `W/"n"`), and the preconditions
//! (`If-Match`, `If-None-Match`) that name one. Each surface maps a tag it cannot read to its
//! own protocol's error.

use axum::http::{header, HeaderMap, HeaderValue};

/// The weak ETag of `version`.
pub fn weak(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// [`weak`] as a header value.
pub fn header_value(version: i64) -> Option<HeaderValue> {
    HeaderValue::from_str(&weak(version)).ok()
}

/// An `If-Match` naming something other than a tag this server sends.
#[derive(Debug, PartialEq, Eq)]
pub struct ForeignTag;

/// The version `If-Match` requires, the header holding a single tag; `None` when it is
/// absent or `*`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ForeignTag> {
    required_version(headers, |text| text)
}

/// The version `If-Match` requires, read from the first tag of a list (SCIM clients may send
/// several); `None` when it is absent or `*`.
pub fn if_match_first(headers: &HeaderMap) -> Result<Option<i64>, ForeignTag> {
    required_version(headers, |text| {
        text.split(',').next().unwrap_or_default().trim()
    })
}

fn required_version(
    headers: &HeaderMap,
    tag_of: impl FnOnce(&str) -> &str,
) -> Result<Option<i64>, ForeignTag> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    tag_of(text)
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| ForeignTag)
}

/// Whether `If-None-Match` names `version` (or `*`), so the representation need not be sent.
pub fn none_match(headers: &HeaderMap, version: i64) -> bool {
    let Some(value) = headers.get(header::IF_NONE_MATCH) else {
        return false;
    };
    let value = value.to_str().unwrap_or_default();
    let tag = weak(version);
    value.trim() == "*" || value.split(',').any(|t| same_tag(t, &tag))
}

/// Weak comparison (RFC 9110 §8.8.3.2): `W/` prefixes do not matter.
fn same_tag(a: &str, b: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn versions_are_weak_tags() {
        assert_eq!(weak(3), "W/\"3\"");
        assert_eq!(header_value(12).unwrap(), "W/\"12\"");
    }

    #[test]
    fn if_match_reads_one_tag() {
        assert_eq!(if_match(&HeaderMap::new()), Ok(None));
        assert_eq!(if_match(&with(header::IF_MATCH, " * ")), Ok(None));
        assert_eq!(if_match(&with(header::IF_MATCH, "W/\"3\"")), Ok(Some(3)));
        assert_eq!(if_match(&with(header::IF_MATCH, "\"4\"")), Ok(Some(4)));
        assert_eq!(
            if_match(&with(header::IF_MATCH, "garbage")),
            Err(ForeignTag)
        );
        assert_eq!(
            if_match(&with(header::IF_MATCH, "W/\"3\", W/\"4\"")),
            Err(ForeignTag)
        );
    }

    #[test]
    fn if_match_first_reads_the_first_tag_of_a_list() {
        assert_eq!(if_match_first(&HeaderMap::new()), Ok(None));
        assert_eq!(if_match_first(&with(header::IF_MATCH, "*")), Ok(None));
        assert_eq!(
            if_match_first(&with(header::IF_MATCH, "W/\"3\", W/\"4\"")),
            Ok(Some(3))
        );
        assert_eq!(
            if_match_first(&with(header::IF_MATCH, "*, W/\"3\"")),
            Err(ForeignTag)
        );
        assert_eq!(
            if_match_first(&with(header::IF_MATCH, "W/\"x\"")),
            Err(ForeignTag)
        );
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(!none_match(&HeaderMap::new(), 2));
        assert!(none_match(&with(header::IF_NONE_MATCH, "*"), 2));
        assert!(none_match(
            &with(header::IF_NONE_MATCH, "\"1\", W/\"2\""),
            2
        ));
        assert!(none_match(&with(header::IF_NONE_MATCH, "\"2\""), 2));
        assert!(!none_match(&with(header::IF_NONE_MATCH, "W/\"3\""), 2));
    }
}
