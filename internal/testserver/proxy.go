package testserver

import (
	"context"
	"strings"
	"sync"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Proxy is an in-process toxiproxy TCP proxy in front of a server, for
// faults the server itself cannot produce: a black hole, a cut link.
type Proxy struct {
	t  testing.TB
	p  *toxiproxy.Proxy
	mu sync.Mutex
}

// StartProxy proxies a free local port to upstream (host:port); the proxy
// stops when the test ends.
func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "upstream", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("testserver: start proxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return &Proxy{t: t, p: p}
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.p.Listen }

// BlackHole makes the link swallow all data without closing: connections
// open, but nothing ever answers (toxiproxy's timeout toxic with timeout 0).
func (p *Proxy) BlackHole() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, stream := range []string{"upstream", "downstream"} {
		if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(
			`{"name":"blackhole_` + stream + `","type":"timeout","stream":"` + stream + `","attributes":{"timeout":0}}`)); err != nil {
			p.t.Fatalf("testserver: black hole: %v", err)
		}
	}
}

// Heal removes the black hole.
func (p *Proxy) Heal() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, stream := range []string{"upstream", "downstream"} {
		if err := p.p.Toxics.RemoveToxic(context.Background(), "blackhole_"+stream); err != nil {
			p.t.Fatalf("testserver: heal: %v", err)
		}
	}
}

// Cut closes every connection and refuses new ones, as a network partition
// with resets would; the server behind keeps its data.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p.Stop()
}

// Restore accepts connections again on the same address after Cut.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.p.Start(); err != nil {
		p.t.Fatalf("testserver: restore proxy: %v", err)
	}
}
