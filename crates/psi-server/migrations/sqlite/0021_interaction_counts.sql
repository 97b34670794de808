-- What the dashboard's Overview counts that no other row records (docs/dashboard.md, "Overview"):
-- per interaction and UTC day, how many start pages psi rendered and how many links it handed
-- out (the embed's link.json, a sourceURL request the wallet downloaded). Each process counts in
-- memory and adds its counts every few seconds and when it stops, so several processes on one
-- database add up. Owned by src/db/interaction_counts.rs. Keep in step with ../postgres/.
CREATE TABLE interaction_counts (
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    interaction_id TEXT NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    -- The day's first instant (unix ms, midnight UTC).
    day INTEGER NOT NULL,
    page_views INTEGER NOT NULL DEFAULT 0,
    link_fetches INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (interaction_id, day)
);
-- The Overview's window: a service's days from the first one in the window, per interaction,
-- read in order without the table.
CREATE INDEX interaction_counts_by_service
    ON interaction_counts (service_id, interaction_id, day, page_views, link_fetches);

-- The Overview's other figures, each one query per service and window, read in index order
-- and grouped as read (no sort of every row; src/db/events.rs, src/db/delivery_attempts.rs).
-- The funnel: events per interaction and state.
CREATE INDEX events_funnel ON events (service_id, interaction_id, state, created_at);
-- Webhook health per interaction: each call keeps its event's interaction (set with the call).
ALTER TABLE webhook_calls ADD COLUMN interaction_id TEXT;
UPDATE webhook_calls SET interaction_id =
    (SELECT interaction_id FROM events WHERE events.id = webhook_calls.event_id);
CREATE INDEX webhook_calls_health
    ON webhook_calls (service_id, interaction_id, at, duration_ms, status, error);
-- Delivery health per notification endpoint.
CREATE INDEX delivery_attempts_health
    ON delivery_attempts (service_id, endpoint_id, at, duration_ms, status, error);
