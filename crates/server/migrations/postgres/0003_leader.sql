-- Leadership as a lease with an epoch (a fencing token): the leader renews it; another
-- server takes it once it has expired (by the database's clock), with the next epoch; every
-- write of the control loop carries its epoch and is refused once the epoch has moved on.
CREATE TABLE leader (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
-- The epoch of the leader that wrote an event (NULL: written by a request, not the loop).
ALTER TABLE events ADD COLUMN epoch BIGINT;
-- A tenant's events, paged by sequence number (GET /v1/events, the event stream).
CREATE INDEX events_tenant_seq ON events (tenant, seq);
