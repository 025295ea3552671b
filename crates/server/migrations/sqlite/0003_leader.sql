-- Leadership as a lease with an epoch (a fencing token): the leader renews it; another
-- server takes it once it has expired, with the next epoch; every write of the control loop
-- carries its epoch and is refused once the epoch has moved on. SQLite dialect (replicas on
-- one machine share its clock).
CREATE TABLE leader (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
-- The epoch of the leader that wrote an event (NULL: written by a request, not the loop).
ALTER TABLE events ADD COLUMN epoch INTEGER;
-- A tenant's events, paged by sequence number (GET /v1/events, the event stream).
CREATE INDEX events_tenant_seq ON events (tenant, seq);
