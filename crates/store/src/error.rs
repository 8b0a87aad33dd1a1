/// What can go wrong in the store, in classes the server maps to HTTP statuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist in this organization.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a reference would be broken; the message names which.
    #[error("{0}")]
    Conflict(String),
    /// A value the database refuses to hold.
    #[error("{0}")]
    InvalidInput(String),
    /// A SCIM filter or sort attribute that cannot be applied; the message says why.
    #[error("{0}")]
    InvalidFilter(String),
    /// A reference in the request names nothing in this organization (a group member that is
    /// not one of its users, say); the message names it.
    #[error("{0}")]
    InvalidReference(String),
    /// The organization lacks something the operation needs (its default provisioning role).
    #[error("{0}")]
    Precondition(String),
    /// The caller's expected version did not match the stored one.
    #[error("the resource was changed since it was read (version {current})")]
    VersionMismatch {
        /// The version stored now.
        current: i64,
    },
    /// The database could not be reached or failed.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back (a JSON column that is not JSON, say).
    #[error("stored value is unreadable: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::Conflict(conflict_message(db.constraint(), db.message()));
            }
            if db.is_foreign_key_violation() {
                return StoreError::Conflict("a referenced resource does not exist".into());
            }
            // SQLSTATE class 22 (data exception): a value the database cannot hold, such as a
            // NUL character in text on PostgreSQL. That is bad input, not a database failure.
            if db.code().is_some_and(|c| c.starts_with("22")) {
                return StoreError::InvalidInput(
                    "a value contains characters that cannot be stored (such as NUL)".into(),
                );
            }
        }
        StoreError::Database(err)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// Turns a unique violation into a message naming the field. PostgreSQL names the constraint,
/// SQLite names the columns in its message; both are matched.
pub(crate) fn conflict_message(constraint: Option<&str>, message: &str) -> String {
    let haystack = format!("{} {}", constraint.unwrap_or_default(), message);
    let field = [
        (
            "shared_issuer",
            "another SSO connection of this organization already shares the ACS URL with this IdP",
        ),
        (
            "sso_connections.idp_entity_id",
            "another SSO connection of this organization already shares the ACS URL with this IdP",
        ),
        (
            "sp_entity_id",
            "another SSO connection already uses this sp_entity_id; each connection needs its own",
        ),
        (
            "short_name",
            "an organization with this short_name already exists",
        ),
        (
            "business_unit_id",
            "an organization with this business_unit_id already exists",
        ),
        (
            "org_domains",
            "this e-mail domain is already claimed by an organization",
        ),
        (
            "domain",
            "this e-mail domain is already claimed by an organization",
        ),
        (
            "user_name",
            "a user with this user_name already exists in the organization",
        ),
        (
            "name_key",
            "a role with this name already exists in the organization",
        ),
    ]
    .into_iter()
    .find(|(needle, _)| haystack.contains(needle));
    match field {
        Some((_, msg)) => msg.to_string(),
        None => "a resource with these values already exists".to_string(),
    }
}
