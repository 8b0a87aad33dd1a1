//! SCIM 2.0 protocol rules (RFC 7643, RFC 7644), as pure functions over values: no IO.
//!
//! So far: the filter grammar of RFC 7644 §3.4.2.2 and the PATCH path grammar of §3.5.2, parsed
//! into ASTs the store compiles to SQL, with the errors SCIM clients expect.

mod error;
pub mod eval;
pub mod filter;
pub mod patch;
pub mod schema;

pub use error::{Error, ScimType};
