-- Extensions (docs/extensions.md): named, versioned sets of webhooks a service authors and
-- services install and attach to interactions. Owned by src/db/extensions.rs. Keep in step with
-- ../postgres/.

-- An extension, authored by a service, or built into psi.
CREATE TABLE extensions (
    id TEXT PRIMARY KEY NOT NULL,
    -- The author; NULL for a built-in extension.
    service_id TEXT REFERENCES services (id) ON DELETE CASCADE,
    -- Which built-in extension psi runs in-process (src/engine/builtin.rs); NULL when authored.
    builtin TEXT UNIQUE CHECK (builtin IN ('forward_http', 'chat_notification', 'allow_list')),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    -- 'private': the author only; 'public': the catalogue.
    visibility TEXT NOT NULL CHECK (visibility IN ('private', 'public')),
    -- The author's key that signs the triggers' calls, and the scheme. No cascade: a key that
    -- signs for installations cannot silently disappear. NULL for a built-in extension, whose
    -- calls the installing service's default key signs.
    key_id TEXT REFERENCES keys (id),
    auth TEXT NOT NULL CHECK (auth IN ('signature', 'bearer', 'standard_webhooks')),
    -- The third party's key (the author's RSA public key or SHA secret) that authenticates its
    -- calls into psi on the extension's behalf (`credentials-issued` naming an installation).
    inbound_key_id TEXT REFERENCES keys (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (service_id, name),
    CHECK ((builtin IS NULL) = (service_id IS NOT NULL) AND (builtin IS NULL) = (key_id IS NOT NULL))
);
CREATE INDEX extensions_public ON extensions (visibility, created_at);

-- A published version: immutable.
CREATE TABLE extension_versions (
    extension_id TEXT NOT NULL REFERENCES extensions (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    -- Zero-padded MAJOR.MINOR.PATCH, so versions sort as text.
    sort_key TEXT NOT NULL,
    -- JSON: triggers, settings, output, required credentials (src/domain/extension.rs).
    manifest TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (extension_id, version)
);

-- An extension installed in a service, at a pinned version.
CREATE TABLE extension_installations (
    id TEXT PRIMARY KEY NOT NULL,
    -- The installing service.
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    -- No cascade: an installed extension is not deleted.
    extension_id TEXT NOT NULL REFERENCES extensions (id),
    version TEXT NOT NULL,
    -- JSON object of the service-level settings but secrets.
    settings TEXT NOT NULL,
    -- The secret settings, a JSON object sealed with the master key (the row id as associated
    -- data); NULL when there are none.
    secrets_sealed BLOB,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (service_id, extension_id),
    FOREIGN KEY (extension_id, version) REFERENCES extension_versions (extension_id, version)
);
CREATE INDEX extension_installations_by_extension ON extension_installations (extension_id);

-- An installation attached to one of the service's interactions.
CREATE TABLE extension_attachments (
    installation_id TEXT NOT NULL REFERENCES extension_installations (id) ON DELETE CASCADE,
    interaction_id TEXT NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    -- JSON object of the interaction-level settings but secrets, and the sealed secrets (the
    -- installation id and the interaction id as associated data).
    settings TEXT NOT NULL,
    secrets_sealed BLOB,
    -- The triggers run in the order of attachment.
    created_at INTEGER NOT NULL,
    PRIMARY KEY (installation_id, interaction_id)
);
CREATE INDEX extension_attachments_by_interaction ON extension_attachments (interaction_id, created_at);

-- The credentials an attachment added to its interaction, resolved from the manifest and the
-- settings; an interaction's own requirements (interaction_credentials, interaction_schemas)
-- come first and win.
CREATE TABLE extension_requirements (
    installation_id TEXT NOT NULL,
    interaction_id TEXT NOT NULL,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    -- One of the two.
    credential_definition_id TEXT REFERENCES credential_definitions (id),
    schema_id TEXT REFERENCES schemas (id),
    -- Schema only: JSON array of DIDs.
    trusted_issuers TEXT NOT NULL,
    only_last INTEGER NOT NULL CHECK (only_last IN (0, 1)),
    PRIMARY KEY (installation_id, interaction_id, position),
    FOREIGN KEY (installation_id, interaction_id)
        REFERENCES extension_attachments (installation_id, interaction_id) ON DELETE CASCADE,
    CHECK ((credential_definition_id IS NULL) <> (schema_id IS NULL))
);
CREATE INDEX extension_requirements_by_interaction ON extension_requirements (interaction_id);

-- The durable triggers (on_issue, on_finish) are delivered through the outbox to endpoints psi
-- makes for the installation: such an endpoint receives only what is enqueued to it.
ALTER TABLE delivery_endpoints ADD COLUMN installation_id TEXT
    REFERENCES extension_installations (id) ON DELETE CASCADE;
ALTER TABLE delivery_endpoints ADD COLUMN trigger_name TEXT
    CHECK (trigger_name IN ('on_issue', 'on_finish'));
CREATE UNIQUE INDEX delivery_endpoints_of_installations
    ON delivery_endpoints (installation_id, trigger_name) WHERE installation_id IS NOT NULL;
