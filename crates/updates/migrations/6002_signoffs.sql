-- Sign-offs and scheduled rule changes (Balrog's product_req_signoffs, user_roles,
-- rules_scheduled_changes and rules_scheduled_changes_signoffs), plus a lease row so only one
-- server enacts due changes at a time. Portable DDL as in 6001: BIGINT 0/1 booleans, JSON as TEXT.

-- How many sign-offs of which role a change to a product/channel needs. `channel` may be a glob.
CREATE TABLE updates_product_req_signoffs (
    product TEXT NOT NULL,
    channel TEXT NOT NULL,
    role TEXT NOT NULL,
    signoffs_required BIGINT NOT NULL,
    data_version BIGINT NOT NULL,
    PRIMARY KEY (product, channel, role)
);

-- The roles a user may sign off with.
CREATE TABLE updates_user_roles (
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    data_version BIGINT NOT NULL,
    PRIMARY KEY (username, role)
);

-- A rule change waiting for its time and its sign-offs. `new_row` is the whole new rule as JSON
-- (NULL for a delete); `rule_id` is the target (NULL for an insert that asks for a fresh id);
-- `base_data_version` is the target's data_version when the change was scheduled (NULL for an
-- insert). `when` is ms since the epoch. `failed` says why an enactment was refused for good.
CREATE TABLE updates_rules_scheduled_changes (
    sc_id BIGINT PRIMARY KEY,
    change_type TEXT NOT NULL,
    rule_id BIGINT,
    new_row TEXT,
    base_data_version BIGINT,
    "when" BIGINT NOT NULL,
    scheduled_by TEXT NOT NULL,
    complete BIGINT NOT NULL DEFAULT 0,
    failed TEXT,
    data_version BIGINT NOT NULL
);
CREATE INDEX updates_rules_scheduled_changes_due ON updates_rules_scheduled_changes (complete, "when");
INSERT INTO updates_counters (name, value) VALUES ('updates_rules_scheduled_changes', 0);

-- One sign-off per user per change (the primary key), as in Balrog.
CREATE TABLE updates_rules_scheduled_changes_signoffs (
    sc_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (sc_id, username)
);

-- A named lease: `holder` may act until `until_ms`; taken by a conditional UPDATE.
CREATE TABLE updates_leases (
    name TEXT PRIMARY KEY,
    holder TEXT,
    until_ms BIGINT NOT NULL
);
