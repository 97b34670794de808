-- SSI OAuth's authorization code flow and OpenID Connect (docs/ssi-oauth.md): the device grants
-- become grants of either flow, with what the code flow keeps between the browser's visit and the
-- token request. Times are unix milliseconds (INTEGER). Owned by src/db/oauth.rs. Keep in step
-- with ../postgres/.

ALTER TABLE oauth_device_grants RENAME TO oauth_grants;
-- The hash of the secret the client follows the grant with: the device code, or the handle in the
-- authorization page's URL.
ALTER TABLE oauth_grants RENAME COLUMN device_code_hash TO handle_hash;
ALTER TABLE oauth_grants ADD COLUMN flow TEXT NOT NULL DEFAULT 'device'
    CHECK (flow IN ('device', 'code'));
-- The authorization request (code flow): where the code goes, the client's `state`, the PKCE
-- challenge (S256, base64url), OpenID Connect's `nonce`, and the scope asked for.
ALTER TABLE oauth_grants ADD COLUMN redirect_uri TEXT;
ALTER TABLE oauth_grants ADD COLUMN client_state TEXT;
ALTER TABLE oauth_grants ADD COLUMN code_challenge TEXT;
ALTER TABLE oauth_grants ADD COLUMN nonce TEXT;
ALTER TABLE oauth_grants ADD COLUMN scope TEXT;
-- The authorization code's hash once the browser was sent back with it, and when it expires.
ALTER TABLE oauth_grants ADD COLUMN code_hash TEXT;
ALTER TABLE oauth_grants ADD COLUMN code_expires_at INTEGER;
-- The event that approved the grant, and when (OpenID Connect's `auth_time`).
ALTER TABLE oauth_grants ADD COLUMN event_id TEXT;
ALTER TABLE oauth_grants ADD COLUMN approved_at INTEGER;
CREATE UNIQUE INDEX oauth_grants_by_code ON oauth_grants (code_hash) WHERE code_hash IS NOT NULL;
