-- The admin console: its sessions, apart from sign-in sessions (an idle and an absolute limit
-- of their own, a CSRF secret, the chosen language). A user's console session hangs off the
-- sign-in session it was opened by, so whatever ends that (deactivation, a password change, a
-- connection turned off) ends this too; an operator's hangs off the operator key.
-- Kept in step with the other dialect's 0006_console.sql.
CREATE TABLE console_sessions (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    operator_key_id TEXT REFERENCES operator_keys (id) ON DELETE CASCADE,
    org_id TEXT REFERENCES organizations (id) ON DELETE SET NULL,
    csrf TEXT NOT NULL,
    locale TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    CHECK ((session_id IS NULL) <> (operator_key_id IS NULL))
);
CREATE INDEX console_sessions_session ON console_sessions (session_id);
CREATE INDEX console_sessions_operator ON console_sessions (operator_key_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- A connection's logo (seed 003): an SVG document, sanitized before it is stored.
ALTER TABLE sso_connections ADD COLUMN logo_svg TEXT;
