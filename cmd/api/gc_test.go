package main

import (
	"math"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/testserver"
)

// The served api runs its garbage collector lazier than Go's default under
// a memory limit sized from its configuration, and an operator's GOGC or
// GOMEMLIMIT replaces that policy whole; /metrics shows which one runs.
func TestServeSetsTheCollectorUnlessTheEnvironmentDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		env       map[string]string
		wantGOGC  float64
		wantLimit float64
	}{
		// 2 × (32 MiB + 3 slots × 1024 KiB).
		{"policy", nil, 400, 2 * (32 + 3) << 20},
		{"GOGC set", map[string]string{"GOGC": "150"}, 150, math.MaxInt64},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "300MiB"}, 100, 300 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			env["ARGON2_MEMORY_KIB"] = "1024"
			env["PASSWORD_HASH_CONCURRENCY"] = "3"
			env["PORT"] = strconv.Itoa(testserver.FreePort(t))
			env["PATH"] = os.Getenv("PATH")
			for k, v := range tc.env {
				env[k] = v
			}
			testserver.StartProcess(t, apiBinary.Path(t), env, "serve")
			a := &api{t: t, URL: "http://127.0.0.1:" + env["PORT"]}
			eventually(t, 15*time.Second, "the api to answer /healthz", func() bool {
				resp, err := http.Get(a.URL + "/healthz")
				if err == nil {
					resp.Body.Close()
				}
				return err == nil && resp.StatusCode == http.StatusOK
			})
			series, _ := scrape(t, a)
			if got := series["go_gc_gogc_percent"]; got != tc.wantGOGC {
				t.Errorf("go_gc_gogc_percent: got %v, want %v", got, tc.wantGOGC)
			}
			if got := series["go_gc_gomemlimit_bytes"]; got != tc.wantLimit {
				t.Errorf("go_gc_gomemlimit_bytes: got %v, want %v", got, tc.wantLimit)
			}
		})
	}
}
