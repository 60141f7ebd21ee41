-- Spec 01: remember each user's last selected deal. Existing rows get NULL;
-- there is no data migration.

-- +goose Up
-- +goose StatementBegin
ALTER TABLE users
    ADD COLUMN last_deal_id          bigint REFERENCES deals (id) ON DELETE SET NULL,
    ADD COLUMN last_deal_accessed_at timestamptz,
    ADD COLUMN remember_last_deal    boolean NOT NULL DEFAULT true;
CREATE INDEX idx_users_last_deal ON users (last_deal_id);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX IF EXISTS idx_users_last_deal;
ALTER TABLE users
    DROP COLUMN IF EXISTS remember_last_deal,
    DROP COLUMN IF EXISTS last_deal_accessed_at,
    DROP COLUMN IF EXISTS last_deal_id;
-- +goose StatementEnd
