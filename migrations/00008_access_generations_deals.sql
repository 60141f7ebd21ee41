-- Access generations, part two: each deal's (see 00007, and why the parts
-- are three). Safe on a live database: the new column is NOT NULL DEFAULT 0
-- (no table rewrite since PostgreSQL 11), and only deals is locked.

-- Its Down undoes its own Up, run only by an operator rolling a release back:
-- squawk-ignore-file ban-drop-column, ban-drop-table

-- +goose Up
-- +goose StatementBegin
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

ALTER TABLE deals ADD COLUMN access_gen bigint NOT NULL DEFAULT 0;

CREATE FUNCTION access_bump_deal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.access_gen = OLD.access_gen THEN
        NEW.access_gen := OLD.access_gen + 1;
    END IF;
    INSERT INTO access_outbox (kind, key_id, gen) VALUES ('d', NEW.id, NEW.access_gen);
    RETURN NEW;
END $$;

CREATE TRIGGER deals_access_gen BEFORE UPDATE OF deleted_at, owner_id, name, access_gen ON deals
FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
    OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
    OR OLD.name IS DISTINCT FROM NEW.name
    OR OLD.access_gen IS DISTINCT FROM NEW.access_gen)
EXECUTE FUNCTION access_bump_deal();

-- A hard-deleted deal has no row left to hold its generation: queue one past
-- its last, so a copy in Redis moves on and every session re-checks.
CREATE FUNCTION access_bump_deleted_deal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO access_outbox (kind, key_id, gen) VALUES ('d', OLD.id, OLD.access_gen + 1);
    RETURN OLD;
END $$;

CREATE TRIGGER deals_access_gen_delete AFTER DELETE ON deals
FOR EACH ROW EXECUTE FUNCTION access_bump_deleted_deal();

-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';
DROP TRIGGER IF EXISTS deals_access_gen_delete ON deals;
DROP TRIGGER IF EXISTS deals_access_gen ON deals;
DROP FUNCTION IF EXISTS access_bump_deleted_deal();
DROP FUNCTION IF EXISTS access_bump_deal();
ALTER TABLE deals DROP COLUMN IF EXISTS access_gen;
-- +goose StatementEnd
