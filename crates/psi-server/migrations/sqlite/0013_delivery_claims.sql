-- Fair claims (src/delivery/claims.rs). Keep in step with ../postgres/.
-- The workers' scan is per endpoint: they walk the endpoints that have deliveries waiting for an
-- attempt and take each one's earliest due ones. A scan in due order alone would let one
-- endpoint's backlog come first, and on PostgreSQL it was picked even for the other endpoints.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due_by_endpoint ON deliveries (endpoint_id, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
-- Each endpoint's live leases: its calls in flight, which count against its cap.
CREATE INDEX deliveries_leased ON deliveries (endpoint_id, lease_until) WHERE lease_until IS NOT NULL;
