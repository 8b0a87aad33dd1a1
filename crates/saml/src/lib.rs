//! SAML 2.0 service-provider protocol rules, as pure functions over bytes and values: no IO, no
//! async, no database.
//!
//! The design goal is that the bytes a signature was verified over and the bytes that are then
//! read can never drift apart: a message is parsed once ([`xml::parse`]), the signature verifier
//! ([`dsig`]) returns a handle to the element it proved, and the reader ([`response`]) accepts
//! only such a handle.

pub mod bindings;
pub mod c14n;
pub mod certs;
pub mod dsig;
mod error;
pub mod metadata;
pub mod requests;
pub mod response;
pub mod signing;
pub mod time;
mod writer;
pub mod xml;
pub mod xmlenc;

pub use error::Error;
