-- Snapshots of the folded state: a start reads the latest and replays only the events after
-- it. The log stays the source of truth; a snapshot is a cache of its fold. SQLite dialect.
CREATE TABLE snapshots (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
