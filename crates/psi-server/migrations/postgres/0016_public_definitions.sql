-- Trust across services (src/api/interactions.rs). Keep in step with the other dialect.
-- A public credential definition may be required by other services' interactions on this server;
-- a private one only by its own service's. Owned by src/api/credential_definitions.rs.
ALTER TABLE credential_definitions ADD COLUMN public BIGINT NOT NULL DEFAULT 1 CHECK (public IN (0, 1));
-- Which interactions issue a definition, for holders who lack a required credential.
CREATE INDEX interaction_credentials_by_definition
    ON interaction_credentials (credential_definition_id, role);
