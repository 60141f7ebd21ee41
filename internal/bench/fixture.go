package bench

import (
	"context"
	"fmt"
	"sync"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/jackc/pgx/v5"
)

// Owner is a user who owns one deal and has it as the last deal.
type Owner struct{ UserID, DealID int64 }

// CreateOwners inserts n users, each owning one deal that is also the
// user's last deal, in one transaction of set-based statements.
func CreateOwners(ctx context.Context, db *postgres.DB, n int) ([]Owner, error) {
	var owners []Owner
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
WITH u AS (
	INSERT INTO users (email, name, password_hash)
	SELECT 'owner' || g || '@bench.example', 'Owner ' || g, 'x' FROM generate_series(1, $1) g
	RETURNING id
), d AS (
	INSERT INTO deals (name, owner_id) SELECT 'Deal of ' || id, id FROM u RETURNING id, owner_id
), m AS (
	INSERT INTO deal_members (deal_id, user_id, role) SELECT id, owner_id, 'owner' FROM d
)
SELECT owner_id, id FROM d ORDER BY owner_id`, n)
		if err != nil {
			return err
		}
		owners, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Owner])
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
UPDATE users SET last_deal_id = d.id, last_deal_accessed_at = now()
FROM deals d WHERE d.owner_id = users.id AND users.email LIKE 'owner%@bench.example'`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create owners: %w", err)
	}
	return owners, nil
}

// CreateSessions signs each owner in through the session manager (so the
// data lands in whichever store it uses, as the api would write it) and
// returns the session tokens in owners' order. With withDeal the session
// holds the owner's deal; without it, the next request must restore it.
func CreateSessions(ctx context.Context, m *session.Manager, owners []Owner, withDeal bool) ([]string, error) {
	tokens := make([]string, len(owners))
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				tok, err := signIn(ctx, m, owners[i], withDeal)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				tokens[i] = tok
			}
		}()
	}
	for i := range owners {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("create sessions: %w", err)
	default:
		return tokens, nil
	}
}

func signIn(ctx context.Context, m *session.Manager, o Owner, withDeal bool) (string, error) {
	var dealID int64
	if withDeal {
		dealID = o.DealID
	}
	return m.CreateSignedIn(ctx, o.UserID, dealID)
}

// LoadExpiredSessions inserts n sessions that expired an hour ago, in one
// statement.
func LoadExpiredSessions(ctx context.Context, db *postgres.DB, n int) error {
	_, err := db.Pool.Exec(ctx, `
INSERT INTO sessions (token, data, expiry)
SELECT 'expired-' || g, '\x00', now() - interval '1 hour' FROM generate_series(1, $1) g`, n)
	return err
}

// LoadUsersWithLastDeals inserts n users whose last deal is one of 1,000
// deals of one owner (user g has "Prune deal (g%1000+1)"). Every tenth user
// is not a member of that deal and 1% of the deals are soft-deleted: those
// last deals are stale. It returns how many are stale, which is what a prune
// must clear. Foreign-key triggers are skipped while loading when the role
// may (the rows are consistent by construction), which makes it several
// times faster.
func LoadUsersWithLastDeals(ctx context.Context, db *postgres.DB, n int) (stale int64, err error) {
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SAVEPOINT replica`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT replica`); err != nil {
				return err
			}
		}
		steps := []string{
			`INSERT INTO users (email, name) VALUES ('prune-owner@bench.example', 'Prune owner')`,
			`INSERT INTO deals (name, owner_id, deleted_at)
SELECT 'Prune deal ' || g, (SELECT id FROM users WHERE email = 'prune-owner@bench.example'),
	CASE WHEN g % 100 = 0 THEN now() END
FROM generate_series(1, 1000) g`,
			`INSERT INTO users (email, name, last_deal_id, last_deal_accessed_at)
SELECT 'u' || g || '@prune.example', '', d.id, now()
FROM generate_series(1, ` + fmt.Sprint(n) + `) g JOIN deals d ON d.name = 'Prune deal ' || (g % 1000 + 1)`,
			`INSERT INTO deal_members (deal_id, user_id, role)
SELECT last_deal_id, id, 'member' FROM users WHERE email LIKE '%@prune.example' AND id % 10 <> 0`,
		}
		for _, s := range steps {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE users, deals, deal_members`); err != nil {
		return 0, err
	}
	err = db.Pool.QueryRow(ctx, `
SELECT count(*) FROM users u JOIN deals d ON d.id = u.last_deal_id
LEFT JOIN deal_members m ON m.deal_id = d.id AND m.user_id = u.id
WHERE d.deleted_at IS NOT NULL OR NOT (d.owner_id = u.id OR m.user_id IS NOT NULL OR u.is_admin)`).Scan(&stale)
	return stale, err
}

// ResetLastDeals gives the users LoadUsersWithLastDeals made their last
// deals back after a prune, and vacuums, so a second prune starts alike.
func ResetLastDeals(ctx context.Context, db *postgres.DB) error {
	_, err := db.Pool.Exec(ctx, `
UPDATE users u SET last_deal_id = d.id
FROM deals d
WHERE u.email LIKE '%@prune.example' AND u.last_deal_id IS NULL
  AND d.name = 'Prune deal ' || (substring(u.email FROM 2 FOR position('@' IN u.email) - 2)::bigint % 1000 + 1)`)
	if err != nil {
		return err
	}
	_, err = db.Pool.Exec(ctx, `VACUUM ANALYZE users`)
	return err
}

// LoadAuditEvents commits n events to the audit outbox in one statement.
func LoadAuditEvents(ctx context.Context, db *postgres.DB, n int) error {
	_, err := db.Pool.Exec(ctx, `
INSERT INTO audit_outbox (action, actor_user_id, deal_id, request_id, ip, user_agent, details)
SELECT 'deal.selected', g % 1000 + 1, g % 500 + 1, 'bench-' || g, '127.0.0.1', 'bench', '{}'
FROM generate_series(1, $1) g`, n)
	return err
}
