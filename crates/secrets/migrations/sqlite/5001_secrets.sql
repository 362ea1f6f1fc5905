CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    -- sealed with the server's encryption key (relyard_auth::Cipher), bound to `name`; never plain text
    value TEXT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX secrets_expires ON secrets (expires);

-- Who touched which secret, when, and how it went; never the value.
CREATE TABLE secrets_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time BIGINT NOT NULL,
    client_id TEXT NOT NULL,
    action TEXT NOT NULL,
    name TEXT NOT NULL,
    source_ip TEXT,
    outcome TEXT NOT NULL
);
CREATE INDEX secrets_audit_name ON secrets_audit (name, id);

-- The audit trail is append-only: the database itself refuses edits and deletions, so a bug (or a
-- careless query) in the service cannot rewrite history.
CREATE TRIGGER secrets_audit_no_update BEFORE UPDATE ON secrets_audit
BEGIN
    SELECT RAISE(ABORT, 'secrets_audit is append-only');
END;
CREATE TRIGGER secrets_audit_no_delete BEFORE DELETE ON secrets_audit
BEGIN
    SELECT RAISE(ABORT, 'secrets_audit is append-only');
END;
