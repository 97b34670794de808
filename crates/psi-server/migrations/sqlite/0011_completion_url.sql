-- Where the start page sends the holder when the interaction completes (an absolute http(s) URL
-- the service set through the management API); NULL: the page stays. Owned by src/api/interactions.rs.
ALTER TABLE interactions ADD COLUMN completion_url TEXT;
