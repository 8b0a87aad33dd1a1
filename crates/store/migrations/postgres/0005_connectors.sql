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
ALTER TABLE oauth_codes DROP CONSTRAINT oauth_codes_client_id_fkey;
CREATE INDEX oauth_codes_client ON oauth_codes (client_id);
ALTER TABLE oauth_tokens DROP CONSTRAINT oauth_tokens_client_id_fkey;
ALTER TABLE oauth_tokens ALTER COLUMN user_id DROP NOT NULL;
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
