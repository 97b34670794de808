-- Live status of start pages: the page session a link carried (its `psiSession` field), which the
-- wallet sends back with the event. A page reads the latest event of its session; NULL for events
-- started from links without one. Owned by the web pages (src/pages/status.rs).
ALTER TABLE events ADD COLUMN session TEXT;
CREATE INDEX events_by_session ON events (service_id, session);
