-- Seed 000 as written: a connection may take the ACS URL ({public_url}/saml) as its audience,
-- shared with other connections, its organization then told by the signed OrganizationName
-- attribute. The connection keeps its own entity ID (unique) for when the choice is undone.
-- Kept in step with the other dialect's 0007_shared_acs.sql.
ALTER TABLE sso_connections ADD COLUMN shared_audience BOOLEAN NOT NULL DEFAULT FALSE;

-- Which SAML attributes carry a just-in-time provisioned user's e-mail, names and groups
-- (JSON; an attribute left out falls back to the common names IdPs use).
ALTER TABLE sso_connections ADD COLUMN attribute_mapping TEXT NOT NULL DEFAULT '{}';

-- How far the IdP's clock may be from ours, per connection (seconds; at most 600).
ALTER TABLE sso_connections ADD COLUMN clock_skew_seconds BIGINT NOT NULL DEFAULT 180;

-- On the shared audience an organization's connection is told by the IdP's Issuer: one each.
CREATE UNIQUE INDEX sso_connections_shared_issuer ON sso_connections (org_id, idp_entity_id)
    WHERE shared_audience;
