package devenv

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// listen holds the stack's ports as its servers would, until the test ends.
func listen(t *testing.T, ports ...int) {
	t.Helper()
	for _, p := range ports {
		if p == 0 {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("listen on %d: %v", p, err)
		}
		t.Cleanup(func() { _ = ln.Close() })
	}
}

func all(p Ports) []int { return []int{p.API, p.WorkerMetrics, p.Postgres, p.Redis} }

// apiPort is a port, free with the next one, whose derived ports are in
// range (the ephemeral ports FreePort returns are too high for that).
func apiPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		p := 10000 + rand.IntN(7000)
		if PortFree(p) && PortFree(p+1) {
			return p
		}
	}
	t.Fatal("no free port pair between 10000 and 17000")
	return 0
}

func TestTwoDevStacksSideBySide(t *testing.T) {
	t.Parallel()
	base := apiPort(t)
	first, err := ChoosePorts(base, -1, PortFree, FreePort)
	if err != nil {
		t.Fatalf("first stack: %v", err)
	}
	listen(t, all(first)...) // the first stack runs

	second, err := ChoosePorts(base+1, -1, PortFree, FreePort)
	if err != nil {
		t.Fatalf("second stack (PORT=%d): %v", base+1, err)
	}
	if second.API != base+1 {
		t.Errorf("second stack's api port: got %d, want %d", second.API, base+1)
	}
	seen := map[int]string{}
	for i, p := range append(all(first), all(second)...) {
		if p == 0 {
			t.Errorf("port %d of the stacks is 0", i)
		}
		if other, dup := seen[p]; dup {
			t.Errorf("port %d chosen twice (%s and %d)", p, other, i)
		}
		seen[p] = strconv.Itoa(i)
	}
	listen(t, all(second)...) // both stacks can bind every port they chose

	if _, err := ChoosePorts(base, -1, PortFree, FreePort); err == nil {
		t.Errorf("a third stack on the first one's PORT=%d: got no error, want port in use", base)
	}
}

func TestPortsDeriveFromPort(t *testing.T) {
	t.Parallel()
	free := func(int) bool { return true }
	none := func() (int, error) { t.Fatal("picked a random port although the derived one is free"); return 0, nil }
	for _, tc := range []struct {
		api  int
		want Ports
	}{
		{8080, Ports{API: 8080, WorkerMetrics: 9090, Postgres: 55432, Redis: 56379}},
		{8081, Ports{API: 8081, WorkerMetrics: 9091, Postgres: 55433, Redis: 56380}},
	} {
		got, err := ChoosePorts(tc.api, -1, free, none)
		if err != nil || got != tc.want {
			t.Errorf("PORT=%d: got %+v (%v), want %+v", tc.api, got, err, tc.want)
		}
	}
}

func TestTakenDerivedPortsAreReplaced(t *testing.T) {
	t.Parallel()
	taken := map[int]bool{9090: true, 55432: true}
	next := 30000
	pick := func() (int, error) { next++; return next, nil }
	got, err := ChoosePorts(8080, -1, func(p int) bool { return !taken[p] }, pick)
	want := Ports{API: 8080, WorkerMetrics: 30001, Postgres: 30002, Redis: 56379}
	if err != nil || got != want {
		t.Errorf("got %+v (%v), want %+v", got, err, want)
	}
	// A WORKER_METRICS_PORT of one's own is kept; 0 turns the metrics off.
	for _, metrics := range []int{7000, 0} {
		got, err := ChoosePorts(8080, metrics, func(int) bool { return true }, pick)
		if err != nil || got.WorkerMetrics != metrics {
			t.Errorf("WORKER_METRICS_PORT=%d: got %d (%v), want it kept", metrics, got.WorkerMetrics, err)
		}
	}
	if _, err := ChoosePorts(8080, 9090, func(p int) bool { return !taken[p] }, pick); err == nil {
		t.Errorf("WORKER_METRICS_PORT=9090 in use: got no error, want one")
	}
}
