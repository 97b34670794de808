-- The dashboard's accounts (docs/dashboard.md): operators who sign in with a user name and a
-- password, their roles in services, and their sessions. Times are unix milliseconds (BIGINT).
-- Owned by src/db/operators.rs. Keep in step with ../sqlite/.

CREATE TABLE operators (
    id TEXT PRIMARY KEY NOT NULL,
    -- Compared as stored: psi lower-cases it when it is set.
    username TEXT NOT NULL UNIQUE,
    -- The PHC string of an argon2id hash; the password itself is never stored.
    password_hash TEXT NOT NULL,
    -- An admin manages services and people, and acts in every service as an owner.
    is_admin BIGINT NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at BIGINT NOT NULL
);

-- What an operator may do in a service: owner (everything, and its people), editor (change its
-- configuration), viewer (read only).
CREATE TABLE operator_roles (
    operator_id TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    PRIMARY KEY (operator_id, service_id)
);
CREATE INDEX operator_roles_by_service ON operator_roles (service_id);

-- A signed-in browser: the cookie carries a random token, of which only the SHA-256 is stored;
-- the CSRF token its forms carry; signing out everywhere deletes every row of the operator.
CREATE TABLE operator_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    operator_id TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator_id);
CREATE INDEX operator_sessions_by_expiry ON operator_sessions (expires_at);
