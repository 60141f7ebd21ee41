package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Every store method runs its statements through q(ctx): in the
// transaction ctx carries when there is one (Transact, WithTx), else on the
// pool. A method called inside a transaction therefore takes part in it,
// whoever wrote the method; TestStoreMethodsHonourTheTransaction holds every
// method of DB to that, apart from the few named there that say why not.

type txKey struct{}

// WithTx returns a context whose statements run in tx, so that several
// methods commit together; the caller commits or rolls back tx. Transact
// is the way to open one; WithTx is for a caller that began tx itself.
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// q is the transaction ctx carries, else the pool: what every statement of
// a store method runs on.
func (db *DB) q(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return db.Pool
}

// alone is the pool, for the few statements that must commit on their own
// even when the caller is in a transaction: each caller says why. It takes
// no context so that it cannot be mistaken for q.
func (db *DB) alone() querier {
	return db.Pool
}

// Transact runs fn in one transaction: every store method fn calls with the
// context it is given runs in it. The transaction commits when fn returns
// nil and rolls back when fn returns an error (returned as it is) or
// panics; a failed begin or commit is returned as pgx gives it. Inside a transaction already (ctx
// carries one), it is a savepoint of that transaction.
func (db *DB) Transact(ctx context.Context, fn func(ctx context.Context) error) error {
	tx, err := db.q(ctx).Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(WithTx(ctx, tx)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
