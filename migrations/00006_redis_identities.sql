-- The identities of the Redis servers the processes cache in, and the epoch
-- that PostgreSQL holds for them (internal/redisepoch). A Redis that comes
-- back from the past (restarted from a snapshot, restored from a backup, a
-- lagging replica promoted) has a new identity (run_id, replication id):
-- the first process to meet it records it with an epoch one past the
-- highest, so every copy stamped with an older epoch is distrusted until it
-- is re-read from PostgreSQL. An epoch kept in Redis alone would come back
-- with the old data; this one cannot.
--
-- Safe on a live database: a new, empty table.

-- Its Down undoes its own Up, run only by an operator rolling a release back:
-- squawk-ignore-file ban-drop-column, ban-drop-table

-- +goose Up
CREATE TABLE redis_identities (
    target     text        NOT NULL,
    identity   text        NOT NULL,
    epoch      bigint      NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, identity)
);

-- +goose Down
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';
DROP TABLE redis_identities;
