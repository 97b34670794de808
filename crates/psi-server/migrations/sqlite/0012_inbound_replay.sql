-- Replay protection of calls third parties make (PROTOCOL §4.3) and Standard Webhooks.
-- Times are unix milliseconds (INTEGER).
-- Keep in step with ../postgres/ (same tables and columns, dialect types only).

-- Standard Webhooks as a third auth scheme of interaction webhooks, credential-check webhooks and
-- notification endpoints. SQLite cannot alter a CHECK constraint, and rebuilding these tables
-- would drop whatever columns later migrations add, so the constraint's text is widened in place
-- (the procedure of SQLite's ALTER TABLE documentation for changes that leave stored rows valid).
-- The ALTER TABLE below changes the schema version, so every connection reads the new text.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'IN (''signature'', ''bearer'')', 'IN (''signature'', ''bearer'', ''standard_webhooks'')')
WHERE type = 'table' AND name IN ('credential_definitions', 'interactions', 'delivery_endpoints');
PRAGMA writable_schema = OFF;

-- When an answer kept for repeats may go; NULL: never. The body of a call authenticated by
-- `X-Body-Signature` is remembered for good, since the signature never expires; other answers go
-- after 24 hours (src/inbound/idempotency.rs). Rows stored before this column existed: the
-- bodies' kept for good (how they were authenticated is not known), the keys' for 24 hours.
ALTER TABLE inbound_requests ADD COLUMN expires_at INTEGER;
UPDATE inbound_requests SET expires_at = created_at + 86400000 WHERE request_key LIKE 'key:%';
DROP INDEX inbound_requests_by_time;
CREATE INDEX inbound_requests_by_expiry ON inbound_requests (expires_at);

-- `webhook-id` of Standard Webhooks calls accepted: each is accepted once.
CREATE TABLE inbound_webhook_ids (
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL,
    -- The call's `webhook-timestamp` plus the tolerance: after it the call is refused by its
    -- time, so the row can go.
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (service_id, webhook_id)
);
CREATE INDEX inbound_webhook_ids_by_expiry ON inbound_webhook_ids (expires_at);
