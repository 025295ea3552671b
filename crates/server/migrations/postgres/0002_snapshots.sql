-- Snapshots of the folded state: a start reads the latest and replays only the events after
-- it. The log stays the source of truth; a snapshot is a cache of its fold. PostgreSQL dialect.
CREATE TABLE snapshots (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    body TEXT NOT NULL
);
