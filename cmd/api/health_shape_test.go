package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestHealthSessionShowsAnonymousCallersOnlyTheContractShape checks that
// /api/health/session, with Redis configured, holds exactly the contract's
// fields (no address, topology or breaker), and that an admin still finds
// those in /api/admin/stats.
func TestHealthSessionShowsAnonymousCallersOnlyTheContractShape(t *testing.T) {
	t.Parallel()
	env := testEnv(t) // Redis configured: the old report named its node here
	createUser(t, env, "hal@example.com", true)
	a := startAPI(t, env)

	resp, err := http.Get(a.URL + "/api/health/session")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/health/session: got %d %s, want 200", resp.StatusCode, body)
	}
	var strict struct {
		Status string `json:"status"`
		Store  string `json:"store"`
		Redis  struct {
			Configured bool     `json:"configured"`
			Healthy    bool     `json:"healthy"`
			LatencyMS  *float64 `json:"latency_ms"`
		} `json:"redis"`
		Postgres struct {
			Healthy   bool     `json:"healthy"`
			LatencyMS *float64 `json:"latency_ms"`
		} `json:"postgres"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&strict); err != nil {
		t.Fatalf("health body %s: got %v, want only the contract's fields", body, err)
	}
	var loose map[string]map[string]any
	var top map[string]any
	if json.Unmarshal(body, &top) != nil {
		t.Fatalf("health body %s: not an object", body)
	}
	keys := slices.Sorted(maps.Keys(top))
	if want := []string{"postgres", "redis", "status", "store"}; !slices.Equal(keys, want) {
		t.Errorf("health keys: got %v, want %v", keys, want)
	}
	loose = map[string]map[string]any{}
	for _, k := range []string{"redis", "postgres"} {
		b, _ := json.Marshal(top[k])
		m := map[string]any{}
		_ = json.Unmarshal(b, &m)
		loose[k] = m
	}
	if got, want := slices.Sorted(maps.Keys(loose["redis"])), []string{"configured", "healthy", "latency_ms"}; !slices.Equal(got, want) {
		t.Errorf("health redis keys: got %v, want %v", got, want)
	}
	if got, want := slices.Sorted(maps.Keys(loose["postgres"])), []string{"healthy", "latency_ms"}; !slices.Equal(got, want) {
		t.Errorf("health postgres keys: got %v, want %v", got, want)
	}
	if strict.Status != "ok" || !strict.Redis.Configured || !strict.Redis.Healthy || !strict.Postgres.Healthy {
		t.Errorf("health: got %s, want ok with Redis configured and healthy", body)
	}

	admin := newClient(t, a)
	admin.login("hal@example.com", false)
	r := admin.do("GET", "/api/admin/stats", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/admin/stats: got %d %s, want 200", r.Status, r.Body)
	}
	var st struct {
		Breaker  *string `json:"breaker"`
		Topology *string `json:"redis_topology"`
		Node     *string `json:"redis_node"`
	}
	r.JSON(t, &st)
	if st.Breaker == nil || *st.Breaker != "closed" || st.Topology == nil || *st.Topology != "single" || st.Node == nil || *st.Node == "" {
		t.Errorf("admin stats: got %s, want breaker closed, topology single and the node", r.Body)
	} else if p := admin.do("GET", "/admin", nil); p.Status != http.StatusOK || !strings.Contains(string(p.Body), "topology single") || !strings.Contains(string(p.Body), *st.Node) {
		t.Errorf("GET /admin: got %d, want 200 naming the topology and node %s", p.Status, *st.Node)
	}
}
