-- Waiting events end (src/inbound/deadline.rs). Keep in step with the other dialect.
-- How long an event of the interaction waits, after its webhook said the service issues later,
-- for credentials-issued or credentials-issuing-failed before it fails. Owned by
-- src/api/interactions.rs.
ALTER TABLE interactions ADD COLUMN waiting_deadline_secs BIGINT NOT NULL DEFAULT 86400;
-- The waiting events, by when they began waiting (their last change), for the sweep that fails
-- the overdue ones: it reads only waiting events, whatever the number of settled ones.
CREATE INDEX events_waiting ON events (updated_at) WHERE state = 'waiting';
