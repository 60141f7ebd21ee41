package bench

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Floor returns the least a server can do to answer GET /api/deals/current
// from the api's own session data: one Redis GET of the session under
// sessionKeyPrefix+token, and one PostgreSQL statement for the deal. No
// router, no middleware, no session write.
//
// With accessChecked false (the floor the hot path is measured against)
// the statement is a primary-key read of the deal, with no access check.
// With it true the statement is the api's own (postgres.DB.FindDealByID:
// the deal with the user's role, access checked in the same statement), so
// the two floors differ by what that statement costs PostgreSQL, and the
// api and the second floor make the same round trips.
func Floor(db *postgres.DB, rdb *redis.Client, sessionKeyPrefix string, accessChecked bool) http.Handler {
	type dealJSON struct {
		ID        int64     `json:"id"`
		Name      string    `json:"name"`
		CreatedAt time.Time `json:"created_at"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values, ok := floorSession(w, r, rdb, sessionKeyPrefix)
		if !ok {
			return
		}
		id, _ := values["deal_id"].(int64)
		var body any
		var err error
		if accessChecked {
			userID, _ := values["user_id"].(int64)
			var d deal.Deal
			d, err = db.FindDealByID(r.Context(), userID, id)
			body = map[string]deal.Deal{"current_deal": d}
		} else {
			var d dealJSON
			err = db.Pool.QueryRow(r.Context(), `SELECT id, name, created_at FROM deals WHERE id = $1 AND deleted_at IS NULL`, id).
				Scan(&d.ID, &d.Name, &d.CreatedAt)
			body = map[string]dealJSON{"current_deal": d}
		}
		if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, deal.ErrNotFound) {
			http.Error(w, "no deal", http.StatusConflict)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// The value always encodes; a failed write means the client went
		// away, and the floor does no more than it must: nothing to log.
		_ = json.NewEncoder(w).Encode(body)
	})
}

// FloorRedis is the floor of a hot path that does not ask PostgreSQL: a bare
// net/http handler doing one Redis GET of the session under
// sessionKeyPrefix+token per request and answering the deal id it holds. The
// api's hot path, serving the session's checked decision, makes one more
// round trip (the generations' MGET), runs its router, middleware and
// session layer, and answers the full Deal.
func FloorRedis(rdb *redis.Client, sessionKeyPrefix string) http.Handler {
	type dealJSON struct {
		ID int64 `json:"id"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values, ok := floorSession(w, r, rdb, sessionKeyPrefix)
		if !ok {
			return
		}
		id, _ := values["deal_id"].(int64)
		if id == 0 {
			http.Error(w, "no deal", http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]dealJSON{"current_deal": {ID: id}})
	})
}

// floorSession is both floors' one Redis round trip: the session named by
// the request's cookie, decoded. It answers the request itself and reports
// false when there is no usable session.
func floorSession(w http.ResponseWriter, r *http.Request, rdb *redis.Client, sessionKeyPrefix string) (map[string]any, bool) {
	c, err := r.Cookie(session.CookieName)
	if err != nil {
		http.Error(w, "no session", http.StatusUnauthorized)
		return nil, false
	}
	b, err := rdb.Get(r.Context(), sessionKeyPrefix+c.Value).Bytes()
	if errors.Is(err, redis.Nil) {
		http.Error(w, "no session", http.StatusUnauthorized)
		return nil, false
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return nil, false
	}
	_, values, err := session.Codec{}.Decode(session.CopyPayload(b))
	if err != nil {
		http.Error(w, "bad session", http.StatusUnauthorized)
		return nil, false
	}
	return values, true
}
