-- SSI OAuth (docs/ssi-oauth.md): the fourth built-in extension, the OAuth 2.0 device
-- authorization grants it serves, and requirements an extension adds with pre-fill from the QR.
-- Times are unix milliseconds (BIGINT). Owned by src/db/oauth.rs. Keep in step with ../sqlite/.

-- The built-in `ssi_oauth`.
ALTER TABLE extensions DROP CONSTRAINT extensions_builtin_check,
    ADD CONSTRAINT extensions_builtin_check
        CHECK (builtin IN ('forward_http', 'chat_notification', 'allow_list', 'ssi_oauth'));

-- A required credential whose attributes the link may pre-fill (the user code of SSI OAuth).
ALTER TABLE extension_requirements ADD COLUMN prefill_from_qr BIGINT NOT NULL DEFAULT 0
    CHECK (prefill_from_qr IN (0, 1));

-- The client id of an SSI OAuth attachment, unique on the server: the OAuth endpoints find the
-- attachment by it. NULL for other extensions.
ALTER TABLE extension_attachments ADD COLUMN oauth_client_id TEXT;
CREATE UNIQUE INDEX extension_attachments_by_oauth_client ON extension_attachments (oauth_client_id)
    WHERE oauth_client_id IS NOT NULL;

-- A device authorization grant (RFC 8628) of an SSI OAuth attachment.
CREATE TABLE oauth_device_grants (
    id TEXT PRIMARY KEY NOT NULL,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    installation_id TEXT NOT NULL,
    interaction_id TEXT NOT NULL,
    -- The client's id, as given at device authorization (the token request must name it again).
    client_id TEXT NOT NULL,
    -- base64url SHA-256 of the device code; the code itself is never stored.
    device_code_hash TEXT NOT NULL UNIQUE,
    -- XXXX-XXXX, as the holder's credential carries it.
    user_code TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'used', 'denied')),
    expires_at BIGINT NOT NULL,
    -- Seconds between polls; raised by each slow_down.
    poll_interval BIGINT NOT NULL,
    -- The first poll may come this early (the library's initial_interval).
    initial_interval BIGINT NOT NULL,
    last_polled_at BIGINT,
    -- Once approved: the holder's pairwise DID and the claims (JSON object) of the token.
    holder_did TEXT,
    claims TEXT,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (installation_id, interaction_id)
        REFERENCES extension_attachments (installation_id, interaction_id) ON DELETE CASCADE
);
-- A user code names one grant while it is pending.
CREATE UNIQUE INDEX oauth_device_grants_pending_user_code ON oauth_device_grants (user_code)
    WHERE state = 'pending';
CREATE INDEX oauth_device_grants_by_expiry ON oauth_device_grants (expires_at);
