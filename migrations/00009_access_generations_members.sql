-- Access generations, part three: a membership change bumps its deal (see
-- 00007, and why the parts are three). Only deal_members is locked.

-- Its Down undoes its own Up, run only by an operator rolling a release back:
-- squawk-ignore-file ban-drop-column, ban-drop-table

-- +goose Up
-- +goose StatementBegin
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

-- A membership change bumps its deal (through deals_access_gen). An insert
-- only gives access, but an 'owner' row changes the role a member sees.
CREATE FUNCTION access_bump_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE deals SET access_gen = access_gen + 1 WHERE id = OLD.deal_id;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.deal_id <> OLD.deal_id) THEN
        UPDATE deals SET access_gen = access_gen + 1 WHERE id = NEW.deal_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER deal_members_access_gen AFTER UPDATE OR DELETE ON deal_members
FOR EACH ROW EXECUTE FUNCTION access_bump_member();
CREATE TRIGGER deal_members_access_gen_owner AFTER INSERT ON deal_members
FOR EACH ROW WHEN (NEW.role = 'owner') EXECUTE FUNCTION access_bump_member();

-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';
DROP TRIGGER IF EXISTS deal_members_access_gen_owner ON deal_members;
DROP TRIGGER IF EXISTS deal_members_access_gen ON deal_members;
DROP FUNCTION IF EXISTS access_bump_member();
-- +goose StatementEnd
