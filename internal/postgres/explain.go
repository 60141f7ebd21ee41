package postgres

import (
	"context"
	"strings"
)

// ExplainFindDealByID returns PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of the
// access-checked deal query FindDealByID runs, for the benchmark report. It
// runs the query.
func (db *DB) ExplainFindDealByID(ctx context.Context, userID, dealID int64) (string, error) {
	rows, err := db.q(ctx).Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+findDealByIDSQL, userID, dealID)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return "", err
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// QueryExecMode names the pool's pgx statement mode (cache_statement unless
// the URL's default_query_exec_mode says otherwise).
func (db *DB) QueryExecMode() string {
	return db.Pool.Config().ConnConfig.DefaultQueryExecMode.String()
}

// CommittedTransactions is pg_stat_database.xact_commit of the current
// database: what an operator counts commits with. The server updates it
// when a backend reports, which may lag by seconds.
func (db *DB) CommittedTransactions(ctx context.Context) (int64, error) {
	var n int64
	err := db.q(ctx).QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n, err
}
