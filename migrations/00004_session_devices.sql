-- Migration lint (squawk, `make test`) came after this migration had run on
-- every database; on a new database its tables are empty, so the locks it
-- takes last a moment. Its findings are kept as they were:
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, require-concurrent-index-creation, require-concurrent-index-deletion, adding-foreign-key-constraint, prefer-identity
-- Its Down undoes its own Up, run only by an operator rolling a release back:
-- squawk-ignore-file ban-drop-column, ban-drop-table

-- Session records for "your sessions" (issue 13) and a queue of Redis
-- invalidations tied to the Redis it is for (issue 12, item 7).
--
-- The session payload stays the source of truth; these columns are written
-- from it on every commit so operators and SQL can read them. Contract: any
-- further column on sessions has a default.
--
-- session_invalidations.target names the Redis (a hash of the key prefix
-- and the Redis address) a queued invalidation is for: two deployments
-- sharing this database but not their Redis never replay each other's rows.
-- Rows queued with the default '' are replayed by nobody; they expire.

-- +goose Up
-- +goose StatementBegin
ALTER TABLE sessions
    ADD COLUMN created_at        timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN last_seen_at      timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN ip                text        NOT NULL DEFAULT '',
    ADD COLUMN user_agent        text        NOT NULL DEFAULT '',
    ADD COLUMN remembered        boolean     NOT NULL DEFAULT false,
    ADD COLUMN remember_selector text        NOT NULL DEFAULT '';
ALTER TABLE session_invalidations
    ADD COLUMN target text NOT NULL DEFAULT '';
CREATE INDEX session_invalidations_target_seq_idx ON session_invalidations (target, seq);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX IF EXISTS session_invalidations_target_seq_idx;
ALTER TABLE session_invalidations DROP COLUMN IF EXISTS target;
ALTER TABLE sessions
    DROP COLUMN IF EXISTS remember_selector,
    DROP COLUMN IF EXISTS remembered,
    DROP COLUMN IF EXISTS user_agent,
    DROP COLUMN IF EXISTS ip,
    DROP COLUMN IF EXISTS last_seen_at,
    DROP COLUMN IF EXISTS created_at;
-- +goose StatementEnd
