package redisclient_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/testserver"
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
