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
-- Only the restore outcomes, by time, with what counting them reads, so the
-- count is an index-only scan of the window. The actions are
-- deal.ActionDealRestored and deal.ActionRestoreDenied.
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_log_restores_idx ON audit_log (occurred_at)
    INCLUDE (action, details) WHERE action IN ('deal.restored', 'deal.restore_denied');

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS audit_log_restores_idx;
DROP TABLE IF EXISTS usage_counters;
