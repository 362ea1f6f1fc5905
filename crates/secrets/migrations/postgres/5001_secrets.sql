CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    -- sealed with the server's encryption key (relyard_auth::Cipher), bound to `name`; never plain text
    value TEXT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX secrets_expires ON secrets (expires);

-- Who touched which secret, when, and how it went; never the value.
CREATE TABLE secrets_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE FUNCTION secrets_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'secrets_audit is append-only';
END;
$$;
CREATE TRIGGER secrets_audit_no_change BEFORE UPDATE OR DELETE ON secrets_audit
    FOR EACH ROW EXECUTE FUNCTION secrets_audit_append_only();
CREATE TRIGGER secrets_audit_no_truncate BEFORE TRUNCATE ON secrets_audit
    FOR EACH STATEMENT EXECUTE FUNCTION secrets_audit_append_only();
