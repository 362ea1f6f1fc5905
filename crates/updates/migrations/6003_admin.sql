-- What the admin API adds to 6001/6002: scheduled release changes with their sign-offs
-- (Balrog's releases_scheduled_changes and releases_scheduled_changes_signoffs) and the history
-- of scheduled changes themselves (Balrog's *_scheduled_changes_history), one table for both
-- kinds. Portable DDL as in 6001: BIGINT 0/1 booleans, JSON as TEXT.

-- A release change waiting for its time and sign-offs. `data` is the whole new blob (NULL for a
-- delete or a change of read_only alone); `read_only` is the new flag (NULL: unchanged);
-- `base_data_version` is the release's data_version when scheduled (NULL for an insert).
CREATE TABLE updates_releases_scheduled_changes (
    sc_id BIGINT PRIMARY KEY,
    change_type TEXT NOT NULL,
    name TEXT NOT NULL,
    product TEXT,
    data TEXT,
    read_only BIGINT,
    base_data_version BIGINT,
    "when" BIGINT NOT NULL,
    scheduled_by TEXT NOT NULL,
    complete BIGINT NOT NULL DEFAULT 0,
    failed TEXT,
    data_version BIGINT NOT NULL
);
CREATE INDEX updates_releases_scheduled_changes_due ON updates_releases_scheduled_changes (complete, "when");
INSERT INTO updates_counters (name, value) VALUES ('updates_releases_scheduled_changes', 0);

CREATE TABLE updates_releases_scheduled_changes_signoffs (
    sc_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (sc_id, username)
);

-- One row per change of a scheduled change (`kind` is 'rules' or 'releases'): the change as the
-- admin API shows it after the change (NULL after a delete), written in the change's transaction.
CREATE TABLE updates_scheduled_changes_history (
    change_id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    sc_id BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    data_version BIGINT,
    row_json TEXT
);
CREATE INDEX updates_scheduled_changes_history_sc ON updates_scheduled_changes_history (kind, sc_id, change_id);
INSERT INTO updates_counters (name, value) VALUES ('updates_scheduled_changes_history', 0);
