//! SCIM 2.0 protocol rules. Filled in by the SCIM work; nothing here pretends to work yet.
