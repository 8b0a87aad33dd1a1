-- Sign-in: organizations' SAML connections, OAuth/OIDC clients, the keys ID tokens are signed
-- with, answered sign-ins, the assertion replay cache, browser sessions, authorization codes and
-- tokens. Kept in step with the other dialect's 0004_signin.sql.

-- An organization's SAML IdP ("SSO provider"). Certificates are base64 DER in a JSON array.
-- `sp_entity_id` is our entity ID toward this IdP (the audience its assertions must name).
CREATE TABLE sso_connections (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    idp_entity_id TEXT NOT NULL,
    sso_url TEXT NOT NULL,
    certificates TEXT NOT NULL,
    sp_entity_id TEXT NOT NULL,
    endpoint_compression BOOLEAN NOT NULL,
    allow_idp_initiated BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sso_connections_org ON sso_connections (org_id, created_at);
CREATE INDEX sso_connections_issuer ON sso_connections (idp_entity_id);
-- An audience names one connection: a Response an IdP issued for one organization can never
-- be accepted for another that registered the same IdP.
CREATE UNIQUE INDEX sso_connections_sp_entity_id ON sso_connections (sp_entity_id);

-- OAuth clients of an organization: the product's apps. Redirect URIs are a JSON array; a
-- public client has no secret and must use PKCE.
CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    initiate_login_uri TEXT,
    secret_hash TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oauth_clients_org ON oauth_clients (org_id, created_at);

-- The deployment's ID-token signing keys; the private key is sealed under the master key.
CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Sign-ins that were answered: a pending sign-in is kept sealed in the browser that started it
-- (nothing is written to start one); its AuthnRequest ID is recorded here when a Response
-- answers it, so it is answered once.
CREATE TABLE spent_login_requests (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX spent_login_requests_expiry ON spent_login_requests (expires_at);

-- Assertion IDs already consumed, per audience (our entity ID the assertion named), until the
-- assertion would expire anyway. Not tied to a connection row: deleting a connection and making
-- it again with the same entity ID must not make its assertions good a second time.
CREATE TABLE saml_replay (
    audience TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (audience, assertion_id)
);
CREATE INDEX saml_replay_expiry ON saml_replay (expires_at);

-- Browser sessions after a verified sign-in; the cookie's secret is stored as a keyed hash.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection_id TEXT,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_connection ON sessions (connection_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Authorization codes (one use, minutes long) and access/refresh tokens, by keyed hash.
CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
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
CREATE INDEX oauth_codes_user ON oauth_codes (user_id);
CREATE INDEX oauth_codes_connection ON oauth_codes (connection_id);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

CREATE TABLE oauth_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grant_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    connection_id TEXT
);
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id);
CREATE INDEX oauth_tokens_connection ON oauth_tokens (connection_id);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
