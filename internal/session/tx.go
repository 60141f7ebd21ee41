package session

import (
	"context"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/postgres"
)

// txCommit collects what a store must do once the transaction its record
// was written in has committed (the Redis copy: Redis after commit).
type txCommit struct {
	after []func(context.Context) error
}

type txCommitKey struct{}

// afterCommit runs f once the caller's transaction commits when ctx is
// inside InTx, else now.
func afterCommit(ctx context.Context, f func(context.Context) error) error {
	if txc, ok := ctx.Value(txCommitKey{}).(*txCommit); ok {
		txc.after = append(txc.after, f)
		return nil
	}
	return f(ctx)
}

// committed is what InTx committed of the request's session: LoadAndSave
// only writes the cookie for it, unless the session changed again since.
type committed struct {
	token  string
	expiry time.Time
	writes uint64
}

// recordDB is the database holding the session record, or nil when the
// store keeps none in PostgreSQL (redis mode).
func (m *Manager) recordDB() *postgres.DB {
	switch s := m.st.(type) {
	case *TieredStore:
		return s.pg.db
	case *PostgresStore:
		return s.db
	}
	return nil
}

// InTx runs fn in one PostgreSQL transaction (postgres.DB.Transact), and
// commits the request's session record in that same transaction when fn
// changed the session: the statements fn runs with the context it is given
// and the session either all commit or none do. Redis gets its copy after
// the commit, and a tombstone is never overwritten, as in CommitCtx. An
// error from fn rolls everything back and is returned; the session keeps
// fn's in-memory changes, so fn should change the session only once its
// statements succeeded. When the commit itself fails, the request's session
// changes are dropped with the transaction: LoadAndSave commits nothing.
// Where the record is not in PostgreSQL (redis mode) fn still runs in one
// transaction, and the session commits as usual.
func (m *Manager) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	db := m.recordDB()
	if db == nil {
		db = m.db
	}
	if db == nil {
		return fn(ctx)
	}
	txc := &txCommit{}
	c, _ := ctx.Value(idsKey{}).(*ids)
	var done *committed
	committing := false
	err := db.Transact(context.WithValue(ctx, txCommitKey{}, txc), func(tctx context.Context) error {
		if err := fn(tctx); err != nil {
			return err
		}
		if c != nil && m.recordDB() != nil && m.sm.Status(ctx) == scs.Modified {
			m.touch(ctx)
			token, expiry, err := m.sm.Commit(tctx)
			if err != nil {
				c.discard = true
				return err
			}
			done = &committed{token: token, expiry: expiry, writes: c.writes}
		}
		committing = true
		return nil
	})
	if err != nil {
		if committing && c != nil {
			// The commit failed: fn's session changes belong to what was
			// rolled back.
			c.discard = true
		}
		return err
	}
	for _, f := range txc.after {
		// As in CommitCtx: the record is committed; the cache's failure
		// is the store's to handle (queued), never the request's.
		_ = f(ctx)
	}
	if done != nil {
		c.committed = done
	}
	return nil
}
