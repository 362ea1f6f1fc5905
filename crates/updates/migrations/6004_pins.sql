-- Balrog's pinnable_releases: a client on (product, channel) that sends `pin=<version>` (`102.`
-- or `102.1.`) is served `mapping` instead of a release past its pin. Set through
-- `PUT /v2/releases/<name>/pinnable`; every change has a history row (Balrog's
-- pinnable_releases_history), whose id counter is also what tells servers to reload.
-- Portable DDL as in 6001.
CREATE TABLE updates_pinnable_releases (
    product TEXT NOT NULL,
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    mapping TEXT NOT NULL,
    data_version BIGINT NOT NULL,
    PRIMARY KEY (product, channel, version)
);

CREATE TABLE updates_pinnable_releases_history (
    change_id BIGINT PRIMARY KEY,
    product TEXT NOT NULL,
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    data_version BIGINT,
    old_row TEXT,
    new_row TEXT
);
CREATE INDEX updates_pinnable_releases_history_pin
    ON updates_pinnable_releases_history (product, channel, version, change_id);
INSERT INTO updates_counters (name, value) VALUES ('updates_pinnable_releases_history', 0);
