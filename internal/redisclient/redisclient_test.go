package redisclient_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

func load(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		if k == "DATABASE_URL" {
			return "postgres://app@db.example.com/app"
		}
		return vars[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestOpenWithoutRedisIsNil(t *testing.T) {
	t.Parallel()
	rdb, err := redisclient.Open(load(t, nil), redisclient.RequestTimeouts)
	if rdb != nil || err != nil {
		t.Errorf("got %v, %v, want nil, nil", rdb, err)
	}
}

func TestOpenRefusesADatabaseOnACluster(t *testing.T) {
	t.Parallel()
	_, err := redisclient.Open(load(t, map[string]string{
		"REDIS_CLUSTER_ADDRS": "127.0.0.1:7000", "REDIS_URL": "redis://:secret-pw@127.0.0.1:7000/3",
	}), redisclient.RequestTimeouts)
	if err == nil || !strings.HasPrefix(err.Error(), "config: REDIS_URL:") || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("got %v, want one line naming REDIS_URL without its password", err)
	}
}

func TestOpenFollowsEachTopologyAndNamesTheNode(t *testing.T) {
	t.Parallel()
	single := testserver.StartRedis(t)
	group := testserver.StartSentinelGroup(t)
	cases := []struct {
		name string
		vars map[string]string
		want func(node string) bool
	}{
		{"single", map[string]string{"REDIS_URL": single.URL()}, func(n string) bool { return n == single.Addr() }},
		{"sentinel", map[string]string{
			"REDIS_SENTINEL_ADDRS": strings.Join(group.Addrs(), ","), "REDIS_SENTINEL_MASTER": group.MasterName(),
			// The master's database comes from REDIS_URL; its host does not.
			"REDIS_URL": "redis://127.0.0.1:1/2",
		}, func(n string) bool { return n == group.MasterAddr() }},
	}
	for _, c := range cases {
		rdb, err := redisclient.Open(load(t, c.vars), redisclient.RequestTimeouts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ctx := context.Background()
		if err := rdb.Set(ctx, "redisclient-test", c.name, 0).Err(); err != nil {
			t.Errorf("%s: SET: %v", c.name, err)
		}
		if node := redisclient.Node(ctx, rdb); !c.want(node) {
			t.Errorf("%s: Node: got %q", c.name, node)
		}
		if c.name == "sentinel" {
			info, err := rdb.ClientInfo(ctx).Result()
			if err != nil || info.DB != 2 {
				t.Errorf("sentinel: database: got %+v (%v), want 2 from REDIS_URL", info, err)
			}
		}
		_ = rdb.Close()
	}
}

// A managed Sentinel setup has two passwords: the Sentinels' own
// (REDIS_SENTINEL_PASSWORD) and the data servers' (in REDIS_URL). Each must
// reach its servers, through a failover too, and neither may show in an
// error.
func TestOpenSentinelWithPasswords(t *testing.T) {
	t.Parallel()
	const masterPW, sentinelPW = "master-secret-pw", "sentinel-secret-pw"
	group := testserver.StartSentinelGroupWithPasswords(t, masterPW, sentinelPW)
	open := func(sentinelPassword, redisURL string) (redis.UniversalClient, error) {
		return redisclient.Open(load(t, map[string]string{
			"REDIS_SENTINEL_ADDRS": strings.Join(group.Addrs(), ","), "REDIS_SENTINEL_MASTER": group.MasterName(),
			"REDIS_SENTINEL_PASSWORD": sentinelPassword, "REDIS_URL": redisURL,
		}), redisclient.RequestTimeouts)
	}
	ctx := context.Background()
	noSecret := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: SET succeeded, want it refused", what)
		} else if strings.Contains(err.Error(), masterPW) || strings.Contains(err.Error(), sentinelPW) {
			t.Errorf("%s: the error shows a password: %v", what, err)
		}
	}

	rdb, err := open(sentinelPW, "redis://:"+masterPW+"@127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rdb.Close() }()
	if err := rdb.Set(ctx, "redisclient-test", "before", 0).Err(); err != nil {
		t.Fatalf("both passwords right: SET: %v", err)
	}
	if node, master := redisclient.Node(ctx, rdb), group.MasterAddr(); node != master {
		t.Errorf("Node: got %q, want the master %q", node, master)
	}

	for _, c := range []struct{ name, sentinelPassword, url string }{
		{"wrong Sentinel password", "not-it", "redis://:" + masterPW + "@127.0.0.1:1/0"},
		{"no Sentinel password", "", "redis://:" + masterPW + "@127.0.0.1:1/0"},
		{"no master password", sentinelPW, ""},
	} {
		bad, err := open(c.sentinelPassword, c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		noSecret(c.name, bad.Set(ctx, "redisclient-test", c.name, 0).Err())
		_ = bad.Close()
	}

	// After a failover the client asks the Sentinels (with their password)
	// for the new master and signs in to it (with the master's).
	old := group.MasterAddr()
	group.KillPrimary()
	next := group.WaitFailover(old, 30*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := rdb.Set(ctx, "redisclient-test", "after", 0).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SET after the failover to %s: %v", next, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, err := rdb.Get(ctx, "redisclient-test").Result(); err != nil || got != "after" {
		t.Errorf("GET after the failover: got %q, %v", got, err)
	}
	if node := redisclient.Node(ctx, rdb); node != next {
		t.Errorf("Node after the failover: got %q, want %q", node, next)
	}
}
