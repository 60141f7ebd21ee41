package devenv

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// PortFree reports whether nothing listens on port of 127.0.0.1 and it can
// be bound there.
func PortFree(port int) bool {
	if port <= 0 || port > 65535 {
		return false
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// DefaultPort is the api's port when PORT is unset.
const DefaultPort = 8080

// Ports are the ports of one make dev stack.
type Ports struct {
	API           int // PORT: the web process
	WorkerMetrics int // WORKER_METRICS_PORT: the worker's /metrics (0: off)
	Postgres      int // a private PostgreSQL, when one is started
	Redis         int // a private Redis, when one is started
}

// The other ports sit at fixed distances from PORT, so that PORT=8080 gives
// the familiar 9090, 55432 and 56379 and PORT=8081 the next ones along.
const (
	workerMetricsOffset = 9090 - DefaultPort
	postgresOffset      = 55432 - DefaultPort
	redisOffset         = 56379 - DefaultPort
)

// ChoosePorts picks a stack's ports for the api port api (which must be
// free: it is what the user asked for) and the worker metrics port metrics
// (-1: unset; kept as it is otherwise). Each unset port is api plus its
// offset when that is free, else any free port; all differ. free says
// whether a port is free, pick returns some free port.
func ChoosePorts(api, metrics int, free func(int) bool, pick func() (int, error)) (Ports, error) {
	if !free(api) {
		return Ports{}, fmt.Errorf("port %d is in use: stop what uses it, or choose another with PORT=%d make dev", api, api+1)
	}
	taken := map[int]bool{api: true}
	choose := func(offset int) (int, error) {
		if p := api + offset; p <= 65535 && !taken[p] && free(p) {
			taken[p] = true
			return p, nil
		}
		for range 20 {
			p, err := pick()
			if err != nil {
				return 0, err
			}
			if !taken[p] {
				taken[p] = true
				return p, nil
			}
		}
		return 0, errors.New("no free port found")
	}
	ports := Ports{API: api, WorkerMetrics: metrics}
	var err error
	if metrics < 0 {
		if ports.WorkerMetrics, err = choose(workerMetricsOffset); err != nil {
			return Ports{}, err
		}
	} else if metrics > 0 {
		if !free(metrics) {
			return Ports{}, fmt.Errorf("WORKER_METRICS_PORT=%d is in use: unset it to have one chosen", metrics)
		}
		taken[metrics] = true
	}
	if ports.Postgres, err = choose(postgresOffset); err != nil {
		return Ports{}, err
	}
	if ports.Redis, err = choose(redisOffset); err != nil {
		return Ports{}, err
	}
	return ports, nil
}
