-- Access generations (issue #24). Every change that can take access away
-- bumps an integer generation in the revoking transaction itself: per user
-- (users.access_gen: is_admin, disabled_at or password_hash changed), per
-- deal (deals.access_gen: deleted_at, owner_id or name changed, a
-- deal_members row inserted, updated or deleted, the deal hard-deleted) and
-- one global generation (access_global.gen, `api access reset --all`).
-- Triggers do the bumping, so a new revoking path, or an operator's UPDATE by
-- hand, cannot forget it. Each bump also writes an access_outbox row in the
-- same transaction: Redis holds copies of the generations (internal/access),
-- and every api process relays the outbox to Redis (set-if-greater) and
-- deletes what it applied, so a bump lost between commit and Redis still
-- lands. Writing access_gen (or access_global.gen) by hand bumps too:
-- `api access reset` does exactly that.
--
-- Safe on a live database: the new columns are NOT NULL DEFAULT 0 (no table
-- rewrite since PostgreSQL 11) and the new tables are empty or one row.

-- Each migration of the three (00007 users, 00008 deals, 00009 deal_members)
-- takes a strong lock on one existing table only: a transaction locking two
-- busy tables one after the other can deadlock with a request that reads both
-- in the other order (TestMigrateUpUnderLoadFailsNoStatement found one).

-- Its Down undoes its own Up, run only by an operator rolling a release back:
-- squawk-ignore-file ban-drop-column, ban-drop-table

-- +goose Up
-- +goose StatementBegin
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

ALTER TABLE users ADD COLUMN access_gen bigint NOT NULL DEFAULT 0;

CREATE TABLE access_global (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    gen bigint  NOT NULL DEFAULT 0
);
INSERT INTO access_global DEFAULT VALUES;

-- kind: 'u' a user's generation, 'd' a deal's, 'g' the global one (key_id 0).
CREATE TABLE access_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('u', 'd', 'g')),
    key_id     bigint      NOT NULL,
    gen        bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A BEFORE trigger bumps the row's own generation (unless the statement
-- already set a new one by hand) and queues it for Redis.
CREATE FUNCTION access_bump_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.access_gen = OLD.access_gen THEN
        NEW.access_gen := OLD.access_gen + 1;
    END IF;
    INSERT INTO access_outbox (kind, key_id, gen) VALUES ('u', NEW.id, NEW.access_gen);
    RETURN NEW;
END $$;

CREATE TRIGGER users_access_gen BEFORE UPDATE OF is_admin, disabled_at, password_hash, access_gen ON users
FOR EACH ROW WHEN (OLD.is_admin IS DISTINCT FROM NEW.is_admin
    OR OLD.disabled_at IS DISTINCT FROM NEW.disabled_at
    OR OLD.password_hash IS DISTINCT FROM NEW.password_hash
    OR OLD.access_gen IS DISTINCT FROM NEW.access_gen)
EXECUTE FUNCTION access_bump_user();

CREATE FUNCTION access_bump_global() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.gen = OLD.gen THEN
        NEW.gen := OLD.gen + 1;
    END IF;
    INSERT INTO access_outbox (kind, key_id, gen) VALUES ('g', 0, NEW.gen);
    RETURN NEW;
END $$;

CREATE TRIGGER access_global_gen BEFORE UPDATE ON access_global
FOR EACH ROW EXECUTE FUNCTION access_bump_global();
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';
DROP TRIGGER IF EXISTS users_access_gen ON users;
DROP TRIGGER IF EXISTS access_global_gen ON access_global;
DROP FUNCTION IF EXISTS access_bump_global();
DROP FUNCTION IF EXISTS access_bump_user();
DROP TABLE IF EXISTS access_outbox;
DROP TABLE IF EXISTS access_global;
ALTER TABLE users DROP COLUMN IF EXISTS access_gen;
-- +goose StatementEnd
