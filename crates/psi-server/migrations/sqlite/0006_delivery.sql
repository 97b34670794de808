-- Durable outbound delivery: the notification endpoints a service registers, the outbox of
-- messages (each written in the same transaction as the change it reports), one delivery per
-- message and endpoint with its retry state and lease, and one row per attempt.
-- Times are unix milliseconds (INTEGER); booleans are 0/1; JSON is TEXT; ids are random hex.
-- Keep in step with ../postgres/ (same tables and columns, dialect types only).

-- Where a service wants notifications, and how they are signed.
CREATE TABLE delivery_endpoints (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- For people: what the endpoint is for.
    description TEXT NOT NULL,
    -- JSON list of the event types it receives; `[]` receives every type.
    event_types TEXT NOT NULL,
    -- The key that signs deliveries (no cascade: a key in use is not deleted) and the scheme.
    key_id TEXT NOT NULL REFERENCES keys (id),
    auth TEXT NOT NULL CHECK (auth IN ('signature', 'bearer')),
    -- After a rotation, the key replaced: it still signs, next to the new one, until
    -- previous_until, so receivers can switch keys without losing a delivery.
    previous_key_id TEXT REFERENCES keys (id),
    previous_until INTEGER,
    -- How long one attempt waits for the answer.
    timeout_ms INTEGER NOT NULL,
    -- 0/1. A disabled endpoint gets no new deliveries; its pending ones wait for it to be enabled.
    enabled INTEGER NOT NULL,
    -- Why it is disabled: 'manual' (the API) or 'failing' (psi, after failing too long).
    disabled_reason TEXT CHECK (disabled_reason IN ('manual', 'failing')),
    disabled_at INTEGER,
    -- The first failed attempt since the last success; NULL while attempts succeed. Disabling
    -- compares it with `[delivery] disable_after`.
    failing_since INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((previous_key_id IS NULL) = (previous_until IS NULL)),
    CHECK ((enabled = 1) = (disabled_reason IS NULL))
);
CREATE INDEX delivery_endpoints_by_service ON delivery_endpoints (service_id);

-- The outbox: one row per notification, whatever the number of endpoints (none included: the
-- message stays listable and can be replayed to an endpoint added later).
CREATE TABLE delivery_messages (
    -- Also `messageId` in the body and the `X-Psi-Message-Id` header: the same on every attempt
    -- and replay, so receivers can drop duplicates.
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- The exact body every attempt sends: signatures cover these bytes.
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX delivery_messages_by_service ON delivery_messages (service_id, created_at);

-- One message to one endpoint: its state, its retry schedule and a worker's lease.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES delivery_messages (id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES delivery_endpoints (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Attempts started in the current schedule. A claim counts one, so a delivery whose worker
    -- dies every time still reaches the end of its schedule.
    attempts INTEGER NOT NULL,
    -- When the next attempt is due. NULL once settled, and for a pending delivery held while
    -- its endpoint is disabled.
    next_attempt_at INTEGER,
    -- A worker's claim: no other worker takes the delivery before lease_until, and the outcome
    -- is recorded only while lease_id is still this claim's (a replay or disable takes it back).
    lease_until INTEGER,
    lease_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
-- The workers' scan: only deliveries waiting for an attempt.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
-- Listings and replays per endpoint.
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, status, created_at);

-- Every try, as the integrator sees it in the API.
CREATE TABLE delivery_attempts (
    -- Also the `jti` of the Bearer token the attempt carried.
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    -- Copied from the delivery, so listings filter without a join.
    message_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    -- When the call started.
    at INTEGER NOT NULL,
    -- HTTP status; NULL when no answer came (timeout, refused address, connection failure).
    status INTEGER,
    duration_ms INTEGER NOT NULL,
    -- The answer's first 1 KiB, as text.
    response_excerpt TEXT NOT NULL,
    -- Why the attempt failed, when it did.
    error TEXT
);
CREATE INDEX delivery_attempts_by_service ON delivery_attempts (service_id, at);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, at);
