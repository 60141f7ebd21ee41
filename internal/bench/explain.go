package bench

import (
	"context"
	"errors"
	"strings"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ExplainFindDealAccess returns PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of
// the statement postgres.DB.FindDealAccess runs (the full access check and
// its generations), for the benchmark report. It runs FindDealAccess once
// on a connection of its own that records the statement, then explains
// exactly that statement with the same arguments: the SQL stays in
// internal/postgres, and no benchmark code is linked into the binaries.
func ExplainFindDealAccess(ctx context.Context, db *postgres.DB, userID, dealID int64) (string, error) {
	rec := &statementRecorder{}
	cfg := db.Pool.Config().Copy()
	cfg.ConnConfig.Tracer = rec
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if _, _, err := (&postgres.DB{Pool: pool}).FindDealAccess(ctx, userID, dealID); err != nil {
		return "", err
	}
	if rec.sql == "" {
		return "", errors.New("bench: FindDealAccess ran no statement")
	}
	rows, err := db.Pool.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+rec.sql, rec.args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// statementRecorder keeps the last statement a connection ran.
type statementRecorder struct {
	sql  string
	args []any
}

func (r *statementRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.sql, r.args = d.SQL, d.Args
	return ctx
}

func (r *statementRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// QueryExecMode names db's pgx statement mode (cache_statement unless the
// URL's default_query_exec_mode says otherwise).
func QueryExecMode(db *postgres.DB) string {
	return db.Pool.Config().ConnConfig.DefaultQueryExecMode.String()
}

// CommittedTransactions is pg_stat_database.xact_commit of db's database:
// what an operator counts commits with. The server updates it when a
// backend reports, which may lag by seconds.
func CommittedTransactions(ctx context.Context, db *postgres.DB) (int64, error) {
	var n int64
	err := db.Pool.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n, err
}

// SessionRecordWrites is how many rows of the sessions table have been
// inserted or updated (pg_stat_user_tables), reported with the same lag as
// CommittedTransactions: on the hot path, where nothing else writes a
// session, these are the last-seen writes.
func SessionRecordWrites(ctx context.Context, db *postgres.DB) (int64, error) {
	var n int64
	err := db.Pool.QueryRow(ctx, `SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname = 'sessions'`).Scan(&n)
	return n, err
}
