-- History of the two tables 6001/6002 kept none for (Balrog's emergency_shutoffs_history and
-- product_req_signoffs_history): who switched a channel's updates off or on, and who changed
-- which sign-offs a product and channel require. Same columns as the other history tables.
CREATE TABLE updates_emergency_shutoffs_history (
    change_id BIGINT PRIMARY KEY,
    product TEXT NOT NULL,
    channel TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    data_version BIGINT,
    old_row TEXT,
    new_row TEXT
);
CREATE INDEX updates_emergency_shutoffs_history_key
    ON updates_emergency_shutoffs_history (product, channel, change_id);
INSERT INTO updates_counters (name, value) VALUES ('updates_emergency_shutoffs_history', 0);

CREATE TABLE updates_product_req_signoffs_history (
    change_id BIGINT PRIMARY KEY,
    product TEXT NOT NULL,
    channel TEXT NOT NULL,
    role TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    data_version BIGINT,
    old_row TEXT,
    new_row TEXT
);
CREATE INDEX updates_product_req_signoffs_history_key
    ON updates_product_req_signoffs_history (product, channel, role, change_id);
INSERT INTO updates_counters (name, value) VALUES ('updates_product_req_signoffs_history', 0);
