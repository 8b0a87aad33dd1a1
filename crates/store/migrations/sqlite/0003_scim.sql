-- SCIM provisioning: each user's SCIM representation, e-mail lookup, groups with members, and
-- the event outbox. Kept in step with the other dialect's 0003_scim.sql.

-- The SCIM attributes as last written (canonical names; server-owned ones left out). The
-- columns userName, externalId, active, displayName, names and e-mail are kept in step with it
-- so filters on them are index lookups.
ALTER TABLE users ADD COLUMN resource TEXT NOT NULL DEFAULT '{}';
CREATE INDEX users_external_id ON users (org_id, kind, external_id);
CREATE INDEX users_created ON users (org_id, kind, created_at, id);

-- Every e-mail address of a user, lower-cased: `emails.value eq` is an index lookup.
CREATE TABLE user_emails (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    value_key TEXT NOT NULL,
    PRIMARY KEY (user_id, value_key)
);
CREATE INDEX user_emails_lookup ON user_emails (org_id, value_key);

CREATE TABLE org_groups (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    external_id TEXT,
    resource TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX org_groups_name ON org_groups (org_id, display_name_key);
CREATE INDEX org_groups_external_id ON org_groups (org_id, external_id);
CREATE INDEX org_groups_created ON org_groups (org_id, created_at, id);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Changes for the product to consume in order (`seq` is the cursor). Written in the same
-- transaction as the change itself.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_org ON events (org_id, seq);

-- Each organization's own SCIM extension schemas for users (custom attributes), as the JSON
-- definitions the admin API accepted.
CREATE TABLE scim_extensions (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    urn_key TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, urn_key)
);
