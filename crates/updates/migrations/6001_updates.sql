-- Balrog's data model for the updates service. Tables carry the crate's prefix (`updates_`), as
-- every crate's do in the shared database; the rest of the name is Balrog's table. Column names are Balrog's (quoted where they are
-- camelCase, so both backends keep the case and rows export unchanged). Booleans are BIGINT 0/1
-- and JSON is TEXT, as elsewhere in relyard, so one file serves SQLite and PostgreSQL.
--
-- Every table has `data_version`: 1 on insert, +1 on each update; writers name the version they
-- read and a stale one changes nothing (Balrog's OutdatedDataError).

-- Ids handed out under a row lock (`UPDATE … RETURNING`): portable where identity columns are not.
CREATE TABLE updates_counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO updates_counters (name, value) VALUES ('updates_rules', 0);
INSERT INTO updates_counters (name, value) VALUES ('updates_rules_history', 0);
INSERT INTO updates_counters (name, value) VALUES ('updates_releases_history', 0);

-- NULL in a match column is a wildcard.
CREATE TABLE updates_rules (
    rule_id BIGINT PRIMARY KEY,
    alias TEXT UNIQUE,
    priority BIGINT,
    mapping TEXT,
    "fallbackMapping" TEXT,
    "backgroundRate" BIGINT,
    update_type TEXT NOT NULL,
    product TEXT,
    version TEXT,
    channel TEXT,
    "buildTarget" TEXT,
    "buildID" TEXT,
    locale TEXT,
    "osVersion" TEXT,
    memory TEXT,
    "instructionSet" TEXT,
    jaws BIGINT,
    mig64 BIGINT,
    distribution TEXT,
    "distVersion" TEXT,
    "headerArchitecture" TEXT,
    comment TEXT,
    data_version BIGINT NOT NULL
);

-- `data` is the release blob as JSON text; `name` is what rules map to (it may differ from the
-- blob's own `name`, e.g. superblobs).
CREATE TABLE updates_releases (
    name TEXT PRIMARY KEY,
    product TEXT NOT NULL,
    data TEXT NOT NULL,
    read_only BIGINT NOT NULL DEFAULT 0,
    data_version BIGINT NOT NULL
);

-- History: one row per change, written in the change's transaction. `old_row` / `new_row` are the
-- whole row as JSON (NULL before an insert / after a delete); `data_version` is the row's version
-- after the change (NULL for a delete). Append-only: the store only ever inserts here.
CREATE TABLE updates_rules_history (
    change_id BIGINT PRIMARY KEY,
    rule_id BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    data_version BIGINT,
    old_row TEXT,
    new_row TEXT
);
CREATE INDEX updates_rules_history_rule ON updates_rules_history (rule_id, change_id);

CREATE TABLE updates_releases_history (
    change_id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    data_version BIGINT,
    old_row TEXT,
    new_row TEXT
);
CREATE INDEX updates_releases_history_name ON updates_releases_history (name, change_id);

-- (product, channel) pairs whose updates are switched off.
CREATE TABLE updates_emergency_shutoffs (
    product TEXT NOT NULL,
    channel TEXT NOT NULL,
    data_version BIGINT NOT NULL,
    PRIMARY KEY (product, channel)
);

-- Balrog's permissions: `options` is JSON text (e.g. {"products": [...]}) or NULL.
CREATE TABLE updates_permissions (
    username TEXT NOT NULL,
    permission TEXT NOT NULL,
    options TEXT,
    data_version BIGINT NOT NULL,
    PRIMARY KEY (username, permission)
);
