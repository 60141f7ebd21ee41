package main

import (
	"math"
	"testing"
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
			for k, v := range tc.env {
				env[k] = v
			}
			_, a := startAPIProcess(t, env)
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
