-- The admin's success figures (GET /api/admin/stats). Restore outcomes are
-- counted from audit_log by action and time; what the audit log does not
-- hold (sign-ins, their restored deals, selector prompts, page loads, failed
-- restores) the api adds to usage_counters, one row per hour and name, with
-- an upsert. The index is built CONCURRENTLY so a large audit_log keeps
-- taking the worker's writes meanwhile; hence no transaction (a build that
-- fails leaves an INVALID index: drop it, then migrate again).

-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE IF NOT EXISTS usage_counters (
    bucket_hour timestamptz NOT NULL,
    name        text        NOT NULL,
    n           bigint      NOT NULL,
    PRIMARY KEY (bucket_hour, name)
);
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_log_action_occurred_at_idx ON audit_log (action, occurred_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS audit_log_action_occurred_at_idx;
DROP TABLE IF EXISTS usage_counters;
