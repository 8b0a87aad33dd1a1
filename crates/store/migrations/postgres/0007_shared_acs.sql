-- Seed 000 as written: a connection may take the ACS URL ({public_url}/saml) as its audience,
-- shared with other connections, its organization then told by the signed OrganizationName
-- attribute. The connection keeps its own entity ID (unique) for when the choice is undone.
-- Kept in step with the other dialect's 0007_shared_acs.sql.
ALTER TABLE sso_connections ADD COLUMN shared_audience BOOLEAN NOT NULL DEFAULT FALSE;
