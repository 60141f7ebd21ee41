package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient/redistest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// tracedDB opens a pool on url whose every statement goes through tracer
// (maxConns 0: pgx's default size); it is closed when the test ends.
func tracedDB(t testing.TB, url string, tracer pgx.QueryTracer, maxConns int32) *postgres.DB {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &postgres.DB{Pool: pool}
}

func TestQueryCounterCountsStatementsAndTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	counter := &QueryCounter{}
	pool := tracedDB(t, pgtest.NewDatabase(t), counter, 0).Pool

	var one int
	if err := pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		t.Fatal(err)
	}
	if q, tx := counter.Queries(), counter.Transactions(); q != 1 || tx != 1 {
		t.Fatalf("one autocommit statement: got %d statements in %d transactions, want 1 in 1", q, tx)
	}
	counter.Reset()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT 2`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// BEGIN, two statements, COMMIT: four round trips, one transaction.
	if q, tx := counter.Queries(), counter.Transactions(); q != 4 || tx != 1 {
		t.Fatalf("explicit transaction: got %d statements in %d transactions, want 4 in 1", q, tx)
	}
	counter.Reset()
	if _, err := pool.Exec(ctx, `SELECT pg_sleep(0.05)`); err != nil {
		t.Fatal(err)
	}
	if d, tag := counter.Longest(); d < 50*time.Millisecond || tag != "SELECT 1" {
		t.Fatalf("longest: got %s (%q), want at least 50ms (\"SELECT 1\")", d, tag)
	}
}

func TestRedisCounterCountsWritesAndTheRoundTripsThatCarryThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.New(t)
	key := "dealctx-bench-counter-test-" + time.Now().Format("150405.000000")
	defer rdb.Del(ctx, key)
	counter := &RedisCounter{}
	rdb.AddHook(counter)
	// A connection's handshake (HELLO, CLIENT SETINFO: reads) goes
	// through the hooks too, whenever go-redis dials: commands are at
	// least those sent, writes and their round trips exactly.
	check := func(what string, cmds, writes, trips int64) {
		t.Helper()
		if c, w, tr := counter.Commands(), counter.Writes(), counter.WriteTrips(); c < cmds || w != writes || tr != trips {
			t.Fatalf("%s: got %d commands, %d writes in %d round trips; want %d, %d in %d", what, c, w, tr, cmds, writes, trips)
		}
		counter.Reset()
	}
	if err := rdb.Set(ctx, key, "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	check("SET", 1, 1, 1)
	if err := rdb.Get(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	check("GET", 1, 0, 0)
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, key)
		p.Get(ctx, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("a pipeline of reads", 2, 0, 0)
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, "2", time.Minute)
		p.Get(ctx, key)
		p.Expire(ctx, key, time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("a pipeline with two writes", 3, 2, 1)
}

func TestSampleQuantileAndThroughput(t *testing.T) {
	t.Parallel()
	var s Sample
	for i := 1; i <= 100; i++ {
		s.Latencies = append(s.Latencies, time.Duration(i)*time.Millisecond)
	}
	s.OK, s.Elapsed = 100, 2*time.Second
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{.5, 50 * time.Millisecond}, {.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := s.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v): got %s, want %s", c.q, got, c.want)
		}
	}
	if got := s.Throughput(); got != 50 {
		t.Errorf("Throughput: got %v, want 50", got)
	}
}

func TestRoundSpreadGivesTheMedianRangeAndIntervalOfEachRoundsRatio(t *testing.T) {
	t.Parallel()
	alternating := func(x, y float64, n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = x
			if i%2 == 1 {
				s[i] = y
			}
		}
		return s
	}
	for _, c := range []struct {
		a, b []float64
		want string
	}{
		// Ratios 0.9, 0.8, 0.7: the middle one; mean 0.8, standard error
		// 0.1/√3, t(2) = 4.303.
		{[]float64{90, 80, 70}, []float64{100, 100, 100}, "median 0.80, 0.70 to 0.90 over 3; mean 0.80, 95 % interval 0.55 to 1.05"},
		// Ratios 0.5, 1.0, 0.75, 0.8: the mean of the middle two; a
		// round the second server has no sample of is left out.
		{[]float64{50, 100, 75, 80, 10}, []float64{100, 100, 100, 100}, "median 0.78, 0.50 to 1.00 over 4; mean 0.76, 95 % interval 0.44 to 1.09"},
		// Twelve rounds a hundredth each side of 0.8: t(11) = 2.201
		// narrows the interval to about a hundredth.
		{alternating(78, 82, 12), alternating(100, 100, 12), "median 0.80, 0.78 to 0.82 over 12; mean 0.80, 95 % interval 0.79 to 0.81"},
		// Two rounds say nothing of an interval.
		{[]float64{80, 90}, []float64{100, 100}, "median 0.85, 0.80 to 0.90 over 2"},
		{nil, nil, "–"},
		{[]float64{1}, []float64{0}, "–"},
	} {
		if got := RoundSpread(c.a, c.b); got != c.want {
			t.Errorf("RoundSpread(%v, %v) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestFloorAnswersFromRedisSessionAndDeal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	owners, err := CreateOwners(ctx, db, 2)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.New(t)
	prefix := "dealctx-bench-floor-test-" + strings.ReplaceAll(t.Name(), "/", "-") + time.Now().Format("150405.000000") + ":"
	b, err := scs.GobCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{"user_id": owners[0].UserID, "deal_id": owners[0].DealID})
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, prefix+"tok", b, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.Del(ctx, prefix+"tok")
	// The second owner's session holding the first owner's deal: only the
	// floor that checks access refuses it.
	b, err = scs.GobCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{"user_id": owners[1].UserID, "deal_id": owners[0].DealID})
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, prefix+"foreign", b, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.Del(ctx, prefix+"foreign")

	for _, accessChecked := range []bool{false, true} {
		h := Floor(db, rdb, prefix, accessChecked)
		foreign := http.StatusOK
		if accessChecked {
			foreign = http.StatusConflict
		}
		for _, c := range []struct {
			name, cookie string
			want         int
		}{{"session with a deal", "tok", http.StatusOK}, {"unknown session", "nope", http.StatusUnauthorized}, {"another user's deal", "foreign", foreign}} {
			r := httptest.NewRequest(http.MethodGet, "/api/deals/current", nil)
			r.Header.Set("Cookie", "session="+c.cookie)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("access checked %v, %s: got status %d, want %d: %s", accessChecked, c.name, w.Code, c.want, w.Body)
			}
			if c.want == http.StatusOK && !strings.Contains(w.Body.String(), "Deal of ") {
				t.Errorf("access checked %v, %s: got body %s, want the deal's name", accessChecked, c.name, w.Body)
			}
			if accessChecked && c.want == http.StatusOK && !strings.Contains(w.Body.String(), `"role":"owner"`) {
				t.Errorf("access checked, %s: got body %s, want the owner's role", c.name, w.Body)
			}
		}
	}
}

// The report's plan is the plan of the statement FindDealAccess runs, with
// its arguments: the owner's deal is found through the primary keys.
func TestExplainFindDealAccessExplainsTheFullCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	owners, err := CreateOwners(ctx, db, 3)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := ExplainFindDealAccess(ctx, db, owners[1].UserID, owners[1].DealID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deals_pkey", "users_pkey", "rows=1 loops=1", "Execution Time"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
}
