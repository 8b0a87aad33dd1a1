//! Input rules for the admin API. Each returns a 422 message that says what is accepted.

use crate::error::ApiError;

type Check = Result<(), ApiError>;

/// Organization short names: lowercase letters, digits and hyphens, 2–63 characters, starting
/// and ending with a letter or digit (they appear in URLs and e-mail-like hints).
pub fn short_name(value: &str) -> Check {
    let ok_chars = value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = !value.starts_with('-') && !value.ends_with('-');
    if (2..=63).contains(&value.len()) && ok_chars && ok_ends && !is_uuid(value) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "short_name {value:?} is not allowed: use 2–63 lowercase letters, digits and hyphens, \
             starting and ending with a letter or digit, and not shaped like an id"
        )))
    }
}

/// Names that look like ids are refused where a path segment may be either an id or a name:
/// otherwise one resource could be named after another's id and be found in its place.
pub fn not_an_id(field: &str, value: &str) -> Check {
    if is_uuid(value) {
        return Err(ApiError::invalid(format!(
            "{field} must not be shaped like an id"
        )));
    }
    Ok(())
}

fn is_uuid(value: &str) -> bool {
    uuid::Uuid::try_parse(value.trim()).is_ok()
}

/// Longer free text: at most `max` characters; line breaks and tabs allowed, other control
/// characters (NUL among them) not.
pub fn text(field: &str, value: &str, max: usize) -> Check {
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// An absolute URL a browser is sent to: `https://host…`, or `http://` to this machine only
/// (`localhost`, `127.0.0.1`, `[::1]`: native apps and local testing, RFC 8252 §7.3). No
/// fragment (RFC 6749 §3.1.2), no spaces or control characters, at most 2,000 characters.
pub fn browser_url(field: &str, value: &str) -> Check {
    let bad = |why: &str| Err(ApiError::invalid(format!("{field} {value:?} {why}")));
    if value.len() > 2000 {
        return bad("is longer than 2,000 characters");
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("must not contain spaces or control characters");
    }
    if value.contains('#') {
        return bad("must not contain a fragment (#…)");
    }
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => return bad("must be an absolute https:// URL"),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return bad("must not carry user information (user@host)");
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty() {
        return bad("has no host");
    }
    let loopback = matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    );
    match scheme.as_str() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => bad("must use https (plain http is accepted for localhost only)"),
        _ => bad("must be an absolute https:// URL"),
    }
}

/// Free-text names shown to people: not blank, no control characters, at most `max` characters.
pub fn label(field: &str, value: &str, max: usize) -> Check {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// A DNS domain claimed for e-mail: lowercase labels of letters, digits and hyphens, two or more.
pub fn domain(value: &str) -> Check {
    let labels: Vec<&str> = value.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if value.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "domain {value:?} is not a lowercase DNS name such as example.com"
        )))
    }
}

/// An e-mail address: one `@`, a non-empty local part, a domain with a dot; no spaces.
pub fn email(value: &str) -> Check {
    let valid = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "email {value:?} is not an e-mail address such as ada@example.com"
        )))
    }
}

/// A local sign-in password: long enough to resist guessing, short enough to hash cheaply.
pub fn password(value: &str) -> Check {
    let n = value.chars().count();
    if (12..=256).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "password must be 12 to 256 characters long",
        ))
    }
}

/// Page size and offset of list calls.
pub fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(50);
    let offset = offset.unwrap_or(0);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 200"));
    }
    if offset < 0 {
        return Err(ApiError::invalid("offset must not be negative"));
    }
    Ok((limit, offset))
}

/// Tells a field sent as `null` (Some(None)) from one left out (None).
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_urls() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?tenant=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1:9/cb",
            "http://[::1]:8080/cb",
            "HTTPS://idp.example.com/sso",
        ] {
            assert!(browser_url("u", ok).is_ok(), "{ok}");
        }
        for bad in [
            "app.example.com/cb",
            "http://app.example.com/cb",
            "http://localhost.evil.com/cb",
            "http://127.0.0.1@evil.com/cb",
            "https://user@app.example.com/cb",
            "https://app.example.com/cb#frag",
            "https:///cb",
            "javascript://alert(1)",
            "https://app.example.com/c b",
            "ftp://app.example.com/cb",
        ] {
            assert!(browser_url("u", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_names() {
        for ok in ["ac", "acme", "acme-2", "a1"] {
            assert!(short_name(ok).is_ok(), "{ok}");
        }
        let too_long = "a".repeat(64);
        for bad in [
            "0b7f3c1e-8d2a-4c55-9e61-3f2a7b9c0d14",
            "a",
            "Acme",
            "acme_",
            "-acme",
            "acme-",
            "ac me",
            "ácme",
            too_long.as_str(),
        ] {
            assert!(short_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_and_emails() {
        assert!(domain("example.com").is_ok());
        assert!(domain("sub.example.co.uk").is_ok());
        for bad in ["example", "Example.com", "-a.com", "a..com", "a.com."] {
            assert!(domain(bad).is_err(), "{bad}");
        }
        assert!(email("ada@example.com").is_ok());
        for bad in [
            "ada",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
            "a@.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_and_pages() {
        assert!(label("name", "Acme Corp", 10).is_ok());
        assert!(label("name", "  ", 10).is_err());
        assert!(label("name", "a\nb", 10).is_err());
        assert!(label("name", "12345678901", 10).is_err());
        assert_eq!(page(None, None).unwrap(), (50, 0));
        assert!(page(Some(0), None).is_err());
        assert!(page(Some(201), None).is_err());
        assert!(page(Some(5), Some(-1)).is_err());
    }

    #[test]
    fn ids_and_free_text() {
        assert!(not_an_id("name", "Admin").is_ok());
        assert!(not_an_id("name", "0B7F3C1E-8D2A-4C55-9E61-3F2A7B9C0D14").is_err());
        assert!(not_an_id("name", "0b7f3c1e8d2a4c559e613f2a7b9c0d14").is_err());
        assert!(text("description", "line one\nline two", 100).is_ok());
        assert!(text("description", "nul\0byte", 100).is_err());
        assert!(text("description", "toolong", 3).is_err());
    }

    #[test]
    fn passwords() {
        assert!(password("short").is_err());
        assert!(password("long enough pass").is_ok());
    }
}
