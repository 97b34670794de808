-- Event lists (src/db/events.rs `list`). Keep in step with the other dialect.
-- Newest first, unfiltered or filtered by one of interaction, state or holder, one page after
-- another (`(created_at, id) < cursor`): each read is an index scan in order that stops at the
-- page's end, however many events the service has. Without `id` in the key, events of the same
-- millisecond needed a sort; without the filter column, a filter read every event of the service.
DROP INDEX events_by_service;
DROP INDEX events_by_holder;
CREATE INDEX events_by_service ON events (service_id, created_at, id);
CREATE INDEX events_by_interaction ON events (service_id, interaction_id, created_at, id);
CREATE INDEX events_by_state ON events (service_id, state, created_at, id);
CREATE INDEX events_by_holder ON events (service_id, holder_did, created_at, id);
