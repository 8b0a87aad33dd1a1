//! SCIM 2.0 protocol rules (RFC 7643, RFC 7644), as pure functions over values: no IO.
//!
//! - [`schema`]: the User, Group and EnterpriseUser attribute definitions (RFC 7643);
//! - [`filter`]: the filter and PATCH path grammars (RFC 7644 §3.4.2.2, §3.5.2) into ASTs, with
//!   depth and length limits — the store compiles these ASTs to SQL;
//! - [`eval`]: a filter applied to one resource held as JSON (PATCH value paths);
//! - [`patch`]: the PATCH engine, with the forms Entra ID and Okta send;
//! - [`extension`]: organizations' own extension schemas (custom attributes);
//! - [`resource`]: a POST/PUT body read into its stored form;
//! - [`document`]: a stored resource as its document (`id`, `meta`, memberships, locations);
//! - [`bulk`]: Bulk requests and `bulkId` references;
//! - [`messages`]: paging, sorting, list and error bodies, attribute projection.
//!
//! Written by hand on purpose (see STACK.md): no crate parses SCIM filters to an AST fit for SQL
//! or applies PATCH with these clients' quirks.

pub mod bulk;
pub mod document;
mod error;
pub mod eval;
pub mod extension;
pub mod filter;
pub mod messages;
pub mod patch;
pub mod resource;
pub mod schema;

pub use error::{Error, ScimType};
