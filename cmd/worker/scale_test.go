package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/testserver"
)

func TestWorkerOnARedisClusterRunsItsJobsAndExportsPoolFigures(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	cluster := testserver.StartCluster(t)
	port := testserver.FreePort(t)
	env["REDIS_URL"] = ""
	env["REDIS_CLUSTER_ADDRS"] = strings.Join(cluster.Addrs(), ",")
	env["WORKER_METRICS_PORT"] = strconv.Itoa(port)
	env["SESSION_STORE"] = "tiered"
	env["AUDIT_SWEEP_CRON"] = "@every 1s"
	env["SESSION_CLEANUP_CRON"] = "@every 1s"
	srv, db := startAPI(t, env)
	w := startWorker(t, env)
	eventually(t, 10*time.Second, "the worker names its Redis", func() bool {
		recs := w.logLines("redis")
		return len(recs) == 1 && recs[0]["topology"] == "cluster"
	})
	var selected []string
	for i := range 3 {
		u := signIn(t, srv, db, fmt.Sprintf("cluster%d@example.com", i))
		id := u.createDeal(fmt.Sprintf("deal %d", i))
		selected = append(selected, u.selectDeal(id), u.selectDeal(id))
	}
	eventually(t, 15*time.Second, "every selection moved to audit_log", func() bool {
		return count(t, db, `SELECT count(*) FROM audit_log WHERE action = 'deal.selected'`) == int64(len(selected))
	})
	requireEachOnce(t, db, selected)
	eventually(t, 10*time.Second, "the scheduled session cleanup ran", func() bool {
		for _, rec := range w.logLines("job run") {
			if rec["job"] == "session-cleanup" {
				return true
			}
		}
		return false
	})
	m := scrape(t, port)
	for _, series := range []string{"dealctx_pgxpool_max_conns", "dealctx_pgxpool_acquired_conns", "dealctx_pgxpool_idle_conns", "dealctx_pgxpool_empty_acquire_wait_seconds_total"} {
		if !strings.Contains(m, "\n"+series+" ") {
			t.Errorf("worker metrics: missing %s", series)
		}
	}
}
