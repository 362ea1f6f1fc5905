-- The outbox: every event is written in the transaction of the change it announces.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    cc TEXT NOT NULL,
    payload TEXT NOT NULL,
    created BIGINT NOT NULL,
    published BIGINT
);
CREATE INDEX events_unpublished ON events (id) WHERE published IS NULL;
