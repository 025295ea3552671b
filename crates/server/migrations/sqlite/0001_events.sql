-- The event log (the source of truth) and a little metadata. SQLite dialect.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    tenant TEXT NOT NULL DEFAULT '',
    idem_key TEXT,
    kind TEXT NOT NULL,
    job TEXT,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX events_idem ON events (tenant, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX events_job ON events (job);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
