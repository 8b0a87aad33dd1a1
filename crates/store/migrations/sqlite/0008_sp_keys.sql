-- Each SSO connection's own keys toward its IdP: one for signing requests, one for the IdP to
-- encrypt assertions to. Made by Lanyard, the private half sealed under the master key. A
-- rotation first adds a `next` key (published beside the current one), then makes it
-- `current`; the one it replaces stays as `previous`, to decrypt what was already sent to it.
-- Kept in step with the other dialect's 0008_sp_keys.sql.
CREATE TABLE sp_keys (
    id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    usage TEXT NOT NULL CHECK (usage IN ('signing', 'encryption')),
    state TEXT NOT NULL CHECK (state IN ('current', 'next', 'previous')),
    private_key TEXT NOT NULL,
    certificate TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (connection_id, usage, state)
);

-- Sign AuthnRequests (and later LogoutRequests) with the connection's signing key; refuse
-- assertions that were not encrypted to its encryption key.
ALTER TABLE sso_connections ADD COLUMN sign_requests BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sso_connections ADD COLUMN require_encrypted_assertions BOOLEAN NOT NULL DEFAULT FALSE;
-- The one content-encryption algorithm a connection's encrypted assertions may use.
ALTER TABLE sso_connections ADD COLUMN content_encryption TEXT NOT NULL DEFAULT 'aes256-gcm';
