-- Trust across services (src/api/interactions.rs). Keep in step with the other dialect.
-- A public credential definition may be required by other services' interactions on this server;
-- a private one only by its own service's. Owned by src/api/credential_definitions.rs.
ALTER TABLE credential_definitions ADD COLUMN public INTEGER NOT NULL DEFAULT 1 CHECK (public IN (0, 1));
-- Which interactions issue a definition, for holders who lack a required credential.
CREATE INDEX interaction_credentials_by_definition
    ON interaction_credentials (credential_definition_id, role);
-- Credentials an interaction requires by schema: a credential of any public definition of the
-- schema that one of the trusted services issued. Owned by src/api/interactions.rs.
CREATE TABLE interaction_schemas (
    interaction_id TEXT NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    schema_id TEXT NOT NULL REFERENCES schemas (id),
    -- JSON array of the trusted issuers' service DIDs.
    trusted_issuers TEXT NOT NULL,
    -- 0/1: only the holder's latest credential of the definition presented counts.
    only_last INTEGER NOT NULL CHECK (only_last IN (0, 1)),
    PRIMARY KEY (interaction_id, position)
);
CREATE INDEX interaction_schemas_by_schema ON interaction_schemas (schema_id);
