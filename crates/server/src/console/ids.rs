//! Ids taken from the console's URL. Each is put into the path of an admin API call, so it is
//! percent-encoded as a single segment: a decoded `/`, `?`, `#` or `..` in it cannot reach
//! another resource than the one the page names.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::Response;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::render;

/// Everything but letters, digits, `-` and `_` is encoded (`.` too, so `..` stays a name).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

fn segment(raw: &str) -> String {
    utf8_percent_encode(raw, SEGMENT).to_string()
}

/// The one id in the URL, encoded as a path segment.
pub struct Id(pub String);

/// The two ids in the URL (a resource and one of its parts), each encoded as a path segment.
pub struct Ids(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => Ok(Id(segment(&raw))),
            Err(_) => Err(render::not_found(parts.headers.clone()).await),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(Path((a, b))) => Ok(Ids(segment(&a), segment(&b))),
            Err(_) => Err(render::not_found(parts.headers.clone()).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn ids_cannot_leave_their_segment() {
        assert_eq!(segment("0193-ab_C9"), "0193-ab_C9");
        assert_eq!(segment("../roles"), "%2E%2E%2Froles");
        assert_eq!(segment("x?limit=1#y"), "x%3Flimit%3D1%23y");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
