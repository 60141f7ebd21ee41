package bench

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/session"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Floor returns the least a server can do to answer GET /api/deals/current
// from the api's own session data: one Redis GET of the session under
// sessionKeyPrefix+token, and one primary-key query for the deal. No router,
// no middleware, no access check, no session write. The api's hot path is
// measured against it.
func Floor(pool *pgxpool.Pool, rdb *redis.Client, sessionKeyPrefix string) http.Handler {
	type dealJSON struct {
		ID        int64     `json:"id"`
		Name      string    `json:"name"`
		CreatedAt time.Time `json:"created_at"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		b, err := rdb.Get(r.Context(), sessionKeyPrefix+c.Value).Bytes()
		if errors.Is(err, redis.Nil) {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, values, err := session.Codec{}.Decode(b)
		if err != nil {
			http.Error(w, "bad session", http.StatusUnauthorized)
			return
		}
		id, _ := values["deal_id"].(int64)
		var d dealJSON
		err = pool.QueryRow(r.Context(), `SELECT id, name, created_at FROM deals WHERE id = $1 AND deleted_at IS NULL`, id).
			Scan(&d.ID, &d.Name, &d.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			http.Error(w, "no deal", http.StatusConflict)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// The value always encodes; a failed write means the client went
		// away, and the floor does no more than it must: nothing to log.
		_ = json.NewEncoder(w).Encode(map[string]dealJSON{"current_deal": d})
	})
}
