/// Why a SAML message was not accepted. One variant per failure class; each message tells an
/// admin what to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the message is not well-formed XML or not SAML: {0}")]
    Malformed(String),
    #[error("the message is larger than the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("the message could not be decoded: {0}")]
    Encoding(String),
    #[error("neither the Response nor its Assertion is signed; configure the IdP to sign the assertion or the response")]
    Unsigned,
    #[error("the signature does not have the structure this service accepts: {0}")]
    SignatureStructure(String),
    #[error("the signature uses {0}, which this connection does not accept")]
    AlgorithmNotAllowed(String),
    /// `signed` names the element whose signature failed: `Response` or `Assertion`.
    #[error("the {signed}'s signature does not match its content: it was changed after signing (digest mismatch)")]
    DigestMismatch { signed: &'static str },
    #[error("no configured certificate verifies the signature; upload the IdP's current signing certificate")]
    UnknownSigner,
    #[error("the certificate could not be read: {0}")]
    Certificate(String),
    #[error("the certificate {subject} expired at {not_after}; upload the IdP's new certificate")]
    CertificateExpired { subject: String, not_after: String },
    #[error("the IdP reported failure: {code}{} (as the unsigned status says; not verified)", message.as_deref().map(|m| format!(": {m:?}")).unwrap_or_default())]
    Status {
        code: String,
        message: Option<String>,
    },
    #[error("the message must hold exactly one assertion, but holds {0}")]
    AssertionCount(usize),
    #[error("the {what} is {got:?}, but this connection expects {expected:?}")]
    Mismatch {
        what: &'static str,
        expected: String,
        got: String,
    },
    #[error("the assertion is not valid yet (NotBefore {not_before}); check the IdP's clock")]
    NotYetValid { not_before: String },
    #[error("the assertion expired at {not_on_or_after}; sign in again")]
    Expired { not_on_or_after: String },
    #[error("the assertion is not for this service: its audiences are {audiences:?}, expected {expected:?}")]
    WrongAudience {
        audiences: Vec<String>,
        expected: String,
    },
    #[error("the response answers request {0:?}, which this service did not send or already used")]
    UnknownInResponseTo(String),
    #[error(
        "the response was not requested (IdP-initiated), and this connection does not accept that"
    )]
    UnsolicitedNotAllowed,
    #[error("the assertion has no bearer subject confirmation for this service")]
    NoBearerConfirmation,
    /// SAML profiles §4.1.4.2: an SSO Response's assertions carry at least one AuthnStatement.
    /// Without one there is no authentication instant, which `max_age` and `prompt=login` need.
    #[error("the assertion has no AuthnStatement, so it says nothing of when or how the user signed in; configure the IdP to include the authentication statement (in Keycloak, use the SAML client's default settings rather than an attribute-only assertion)")]
    NoAuthnStatement,
    #[error("the assertion is not encrypted, and this connection requires encrypted assertions; configure the IdP to encrypt them with the encryption certificate in the connection's SP metadata")]
    NotEncrypted,
    #[error("the encrypted assertion could not be decrypted and verified; check the SP encryption certificate configured at the IdP, and the IdP signing certificate configured here")]
    Decryption,
}
