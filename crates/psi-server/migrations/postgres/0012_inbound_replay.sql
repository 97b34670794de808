-- Replay protection of calls third parties make (PROTOCOL §4.3) and Standard Webhooks.
-- Times are unix milliseconds (BIGINT).
-- Keep in step with ../sqlite/ (same tables and columns, dialect types only).

-- Standard Webhooks as a third auth scheme of interaction webhooks, credential-check webhooks and
-- notification endpoints.
ALTER TABLE credential_definitions DROP CONSTRAINT credential_definitions_check_auth_check,
    ADD CONSTRAINT credential_definitions_check_auth_check
        CHECK (check_auth IN ('signature', 'bearer', 'standard_webhooks'));
ALTER TABLE interactions DROP CONSTRAINT interactions_webhook_auth_check,
    ADD CONSTRAINT interactions_webhook_auth_check
        CHECK (webhook_auth IN ('signature', 'bearer', 'standard_webhooks'));
ALTER TABLE delivery_endpoints DROP CONSTRAINT delivery_endpoints_auth_check,
    ADD CONSTRAINT delivery_endpoints_auth_check
        CHECK (auth IN ('signature', 'bearer', 'standard_webhooks'));

-- When an answer kept for repeats may go; NULL: never. The body of a call authenticated by
-- `X-Body-Signature` is remembered for good, since the signature never expires; other answers go
-- after 24 hours (src/inbound/idempotency.rs). Rows stored before this column existed: the
-- bodies' kept for good (how they were authenticated is not known), the keys' for 24 hours.
ALTER TABLE inbound_requests ADD COLUMN expires_at BIGINT;
UPDATE inbound_requests SET expires_at = created_at + 86400000 WHERE request_key LIKE 'key:%';
DROP INDEX inbound_requests_by_time;
CREATE INDEX inbound_requests_by_expiry ON inbound_requests (expires_at);

-- `webhook-id` of Standard Webhooks calls accepted: each is accepted once.
CREATE TABLE inbound_webhook_ids (
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL,
    -- The call's `webhook-timestamp` plus the tolerance: after it the call is refused by its
    -- time, so the row can go.
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (service_id, webhook_id)
);
CREATE INDEX inbound_webhook_ids_by_expiry ON inbound_webhook_ids (expires_at);
