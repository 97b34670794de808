-- Calls third parties make to psi (PROTOCOL §4.3): the answers kept so a repeated call is answered
-- the same and acts once, and the Bearer token ids already accepted.
-- Times are unix milliseconds (INTEGER).
-- Keep in step with ../postgres/ (same tables and columns, dialect types only).

-- One row per way of recognising a repeated call: its `Idempotency-Key` header and the hash of
-- its body. The row is written in the transaction that acts on the call, so a call either acted
-- and has its answer here, or did nothing.
CREATE TABLE inbound_requests (
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    -- `key:<Idempotency-Key>` or `body:<endpoint>:<SHA-256 of the body, hex>`.
    request_key TEXT NOT NULL,
    -- SHA-256 of the body (hex): an `Idempotency-Key` reused with another body is refused.
    body_sha256 TEXT NOT NULL,
    -- The answer given, replayed as it is.
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    -- Rows are purged after the retention period (24 hours).
    created_at INTEGER NOT NULL,
    PRIMARY KEY (service_id, request_key)
);
CREATE INDEX inbound_requests_by_time ON inbound_requests (created_at);

-- `jti` of Bearer tokens accepted on calls to psi: each is accepted once.
CREATE TABLE inbound_jtis (
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    jti TEXT NOT NULL,
    -- The token's `exp` plus the leeway: after it the token is refused by its time, so the row
    -- can go.
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (service_id, jti)
);
CREATE INDEX inbound_jtis_by_expiry ON inbound_jtis (expires_at);
