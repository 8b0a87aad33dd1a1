-- SCIM tokens: organization-scoped bearer credentials for provisioning connectors.
-- The secret is stored only as a keyed hash; `prefix` is what admins see to tell tokens apart.
CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, created_at);
