//! SAML times (`xs:dateTime`, UTC) to and from unix milliseconds.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::Error;

/// Parses an `xs:dateTime` such as `2026-01-01T00:00:00Z` or `2026-01-01T00:00:00.123Z` (Entra
/// sends milliseconds) into unix milliseconds.
pub fn parse(value: &str, what: &str) -> Result<i64, Error> {
    let t = OffsetDateTime::parse(value.trim(), &Rfc3339)
        .map_err(|_| Error::Malformed(format!("{what} {value:?} is not a valid time")))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| Error::Malformed(format!("{what} {value:?} is out of range")))
}

/// Formats unix seconds as RFC 3339 UTC.
pub fn format(secs: i64) -> String {
    format_ms(secs.saturating_mul(1000))
}

/// Formats unix milliseconds as RFC 3339 UTC.
pub fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn saml_times() {
        assert_eq!(
            super::parse("2026-01-01T00:00:00Z", "t").unwrap(),
            1_767_225_600_000
        );
        assert_eq!(
            super::parse("2026-01-01T00:00:00.123Z", "t").unwrap(),
            1_767_225_600_123
        );
        assert!(super::parse("yesterday", "t").is_err());
        assert_eq!(super::format(1_767_225_600), "2026-01-01T00:00:00Z");
    }
}
