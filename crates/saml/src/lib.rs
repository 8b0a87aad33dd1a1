//! SAML 2.0 service-provider protocol rules. Filled in by the SAML work; nothing here pretends to work yet.
