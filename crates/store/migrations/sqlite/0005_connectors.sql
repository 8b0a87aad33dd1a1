-- Provisioning connectors: OAuth clients as a developer portal registers them, access keys
-- that act as OAuth clients, consents, invitations, and tokens a client holds for itself
-- (client credentials, no user). Kept in step with the other dialect's 0005_connectors.sql.

-- `kind`: app (the product signs users in) or integration (a provisioning connector).
-- `client_type`: confidential, public (PKCE, no secret) or backend (client credentials only).
-- The previous secret stays valid until `previous_secret_expires_at` after a rotation.
ALTER TABLE oauth_clients ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_clients ADD COLUMN kind TEXT NOT NULL DEFAULT 'app';
ALTER TABLE oauth_clients ADD COLUMN client_type TEXT NOT NULL DEFAULT 'confidential';
ALTER TABLE oauth_clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE oauth_clients ADD COLUMN scopes TEXT NOT NULL DEFAULT '["openid","profile","email"]';
ALTER TABLE oauth_clients ADD COLUMN fedramp BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE oauth_clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE oauth_clients ADD COLUMN previous_secret_expires_at BIGINT;
UPDATE oauth_clients SET client_type = 'public', token_endpoint_auth_method = 'none'
    WHERE secret_hash IS NULL;

-- A connection can be turned off without deleting it: it then starts and completes no sign-in.
ALTER TABLE sso_connections ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;

-- An access key may act as an OAuth client of its service account (redirect URIs as a JSON
-- array, the same rules as a client's).
ALTER TABLE access_keys ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';

-- Codes and tokens name either an OAuth client or an access key as their client (no foreign
-- key: revoking either deletes them), and a client-credentials token has no user.
CREATE TABLE oauth_codes_next (
    code_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    grant_id TEXT NOT NULL,
    connection_id TEXT
);
INSERT INTO oauth_codes_next SELECT code_hash, org_id, client_id, user_id, session_id,
    redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, used_at,
    grant_id, connection_id FROM oauth_codes;
DROP TABLE oauth_codes;
ALTER TABLE oauth_codes_next RENAME TO oauth_codes;
CREATE INDEX oauth_codes_user ON oauth_codes (user_id);
CREATE INDEX oauth_codes_connection ON oauth_codes (connection_id);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);
CREATE INDEX oauth_codes_client ON oauth_codes (client_id);

CREATE TABLE oauth_tokens_next (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    grant_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    connection_id TEXT
);
INSERT INTO oauth_tokens_next SELECT id, token_hash, kind, org_id, client_id, user_id,
    grant_id, scope, auth_time, created_at, expires_at, revoked_at, connection_id
    FROM oauth_tokens;
DROP TABLE oauth_tokens;
ALTER TABLE oauth_tokens_next RENAME TO oauth_tokens;
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id);
CREATE INDEX oauth_tokens_connection ON oauth_tokens (connection_id);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id);

-- A user's consent to an integration client acting for them, remembered until revoked.
CREATE TABLE oauth_consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oauth_consents_client ON oauth_consents (client_id);

-- Single-use activation links where a user sets their password, by keyed hash.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX invitations_user ON invitations (user_id);
