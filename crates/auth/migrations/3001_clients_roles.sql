CREATE TABLE auth_clients (
    client_id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    -- sealed with the server's encryption key (crypto.rs); never plain text
    access_token TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires BIGINT NOT NULL,
    delete_on_expiration BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    last_date_used BIGINT NOT NULL,
    last_rotated BIGINT NOT NULL,
    static_client BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE auth_roles (
    role_id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL
);

-- One row; role writes update it first so concurrent role changes are validated one at a time.
CREATE TABLE auth_roles_version (id BIGINT PRIMARY KEY, version BIGINT NOT NULL);
INSERT INTO auth_roles_version (id, version) VALUES (1, 0);
