-- Leases are not indexed (src/delivery/claims.rs). Keep in step with ../postgres/.
-- A claim's update then changes no indexed column and rewrites no index; a process counts the
-- deliveries it holds per endpoint itself instead of counting live leases here.
DROP INDEX deliveries_leased;
