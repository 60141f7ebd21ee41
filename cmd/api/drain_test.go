package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// On SIGTERM the api drains before it stops: /readyz answers 503 at once
// while every other request is served as usual for SHUTDOWN_DRAIN, a
// request whose body is still arriving gets its normal answer, and then the
// listener closes and the process exits cleanly.
func TestSigtermDrainsBeforeItStops(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["SHUTDOWN_DRAIN"] = "2"
	a := startAPI(t, env)
	createUser(t, env, "drain@example.com", false)
	c := newClient(t, a)
	c.login("drain@example.com", false)
	id := c.createDeal("Before the deploy")
	if r := c.do("POST", "/api/deals/"+itoa(id)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d", r.Status)
	}
	if r := c.do("GET", "/readyz", nil); r.Status != http.StatusOK {
		t.Fatalf("readyz before the signal: got %d, want 200", r.Status)
	}

	// A request whose body is still on its way when the signal comes.
	body, feed := io.Pipe()
	slow := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("POST", a.URL+"/api/deals", body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			t.Errorf("the request in flight: %v", err)
			slow <- nil
			return
		}
		slow <- resp
	}()
	_, _ = io.WriteString(feed, `{"name": "Sent `)
	time.Sleep(100 * time.Millisecond)

	signalled := time.Now()
	a.cancel() // what SIGTERM does to run's context
	a.cancel = nil

	ready := c.do("GET", "/readyz", nil)
	if ready.Status != http.StatusServiceUnavailable || ready.Header.Get("Retry-After") == "" {
		t.Errorf("readyz while draining: got %d (Retry-After %q), want 503 with Retry-After", ready.Status, ready.Header.Get("Retry-After"))
	}
	for _, path := range []string{"/healthz", "/api/deals/current", "/api/me"} {
		if r := c.do("GET", path, nil); r.Status != http.StatusOK {
			t.Errorf("%s while draining: got %d, want 200", path, r.Status)
		}
	}
	metrics := c.do("GET", "/metrics", nil)
	if !strings.Contains(string(metrics.Body), "dealctx_draining 1") {
		t.Errorf("metrics while draining: want dealctx_draining 1")
	}
	_, _ = io.WriteString(feed, `during the drain"}`)
	_ = feed.Close()
	if resp := <-slow; resp != nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("the request whose body arrived during the drain: got %d, want 201", resp.StatusCode)
		}
	}

	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("run after SIGTERM: got %v, want a clean exit", err)
		}
		if d := time.Since(signalled); d < 2*time.Second {
			t.Errorf("stopped %s after the signal, want after the 2 s drain", d.Round(time.Millisecond))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the api did not stop within 15 s of the signal")
	}
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(a.URL, "http://"), time.Second); err == nil {
		conn.Close()
		t.Errorf("after the drain: the api still accepts connections")
	}
}
