-- Leases are not indexed (src/delivery/claims.rs). Keep in step with ../sqlite/.
-- A claim's update then changes no indexed column, so PostgreSQL writes it as a heap-only tuple
-- and touches none of the table's indexes; a process counts the deliveries it holds per
-- endpoint itself instead of counting live leases here. The room left on each page for the
-- claim's new row version is what lets the update stay on the page; it applies to pages written
-- from now on (existing rows keep their pages), and settled rows keep the larger footprint.
DROP INDEX deliveries_leased;
ALTER TABLE deliveries SET (fillfactor = 50);
