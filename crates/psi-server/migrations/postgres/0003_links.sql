-- Stored link requests for the sourceURL mode (PROTOCOL §2): the link carries only
-- `{"sourceURL": "<public_url>/r/<id>"}` and the app downloads the full request from psi.
-- Keep in step with ../sqlite/ (same tables and columns, dialect types only).

CREATE TABLE link_requests (
    -- The unguessable token in the URL (128 random bits, base64url): knowing it is the authority
    -- to read the request, as the app fetches it without credentials.
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    -- The full request JSON (psi-link LinkRequest), served as it is.
    request TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- After this instant (unix ms) the request answers 410: pre-filled data must not live forever.
    expires_at BIGINT NOT NULL,
    -- 1: the first download consumes the link (0/1, as in the SQLite schema).
    one_time BIGINT NOT NULL CHECK (one_time IN (0, 1)),
    -- First download; a one-time link is consumed by the UPDATE that sets it.
    used_at BIGINT
);
-- Old rows are purged per service by expiry.
CREATE INDEX link_requests_by_expiry ON link_requests (service_id, expires_at);
