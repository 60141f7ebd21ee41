package main

import (
	"runtime/debug"

	"github.com/dealctx/dealctx/internal/config"
)

// The api's garbage-collection policy, applied when it serves unless the
// operator chose one: GOGC or GOMEMLIMIT in the environment, which the Go
// runtime reads itself and which then apply unchanged.
//
// The api's live heap is small (about 10 MB: the pools, the caches, the
// metrics) while each request allocates a few kB, so at the runtime's
// default (GOGC=100: collect when the heap has doubled) it collects several
// times a second under load, and each collection takes CPU from the requests
// and stretches the slowest of them. So the collector waits until the heap
// is five times its live size (GOGC=400), under a soft limit that is what the
// default would reach in the worst case the configuration allows: twice a
// base live heap plus every password-hash slot's argon2 memory at once. The
// lazier setting costs some tens of MB while the heap is small, and nothing
// beyond the default's own worst case when it is not (a burst of sign-ins).
const (
	gcPercent = 400
	// gcBaseLive is the live heap the limit allows beside argon2's: the
	// api's own state, with room to spare.
	gcBaseLive = 32 << 20
)

// gcPolicy returns the collector's target percentage and soft memory limit
// in bytes for cfg, or false when the environment sets GOGC or GOMEMLIMIT.
func gcPolicy(cfg config.Config, getenv func(string) string) (percent int, limit int64, ok bool) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return 0, 0, false
	}
	hashes := int64(cfg.PasswordHashConcurrency) * int64(cfg.Argon2MemoryKiB) << 10
	return gcPercent, 2 * (gcBaseLive + hashes), true
}

// tuneGC applies gcPolicy to this process when the command line serves
// (`api` or `api serve`). A configuration that does not load is left to run
// to report.
func tuneGC(args []string, getenv func(string) string) {
	if len(args) > 0 && args[0] != "serve" {
		return
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return
	}
	if percent, limit, ok := gcPolicy(cfg, getenv); ok {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
