package config

import (
	"slices"
	"strings"
	"testing"
)

func TestLoadRedisTopologyAndMigrateURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		vars         map[string]string
		topology     string
		sentinels    []string
		master, pass string
		cluster      []string
		configured   bool
	}{
		{"none", nil, TopologySingle, nil, "", "", nil, false},
		{"single", map[string]string{"REDIS_URL": "redis://r:6379/0"}, TopologySingle, nil, "", "", nil, true},
		{"sentinel", map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379, s2:26379,s3:26379", "REDIS_SENTINEL_MASTER": "mymaster", "REDIS_SENTINEL_PASSWORD": " sentinel-pw "},
			TopologySentinel, []string{"s1:26379", "s2:26379", "s3:26379"}, "mymaster", "sentinel-pw", nil, true},
		{"cluster", map[string]string{"REDIS_CLUSTER_ADDRS": "n1:6379,n2:6379"}, TopologyCluster, nil, "", "", []string{"n1:6379", "n2:6379"}, true},
	}
	for _, c := range cases {
		cfg, err := Load(env(c.vars))
		if err != nil {
			t.Errorf("%s: Load: %v", c.name, err)
			continue
		}
		if cfg.RedisTopology != c.topology || !slices.Equal(cfg.RedisSentinelAddrs, c.sentinels) || cfg.RedisSentinelMaster != c.master ||
			cfg.RedisSentinelPassword != c.pass || !slices.Equal(cfg.RedisClusterAddrs, c.cluster) || cfg.RedisConfigured() != c.configured {
			t.Errorf("%s: got topology %q sentinels %q master %q password %q cluster %q configured %t, want %q %q %q %q %q %t", c.name,
				cfg.RedisTopology, cfg.RedisSentinelAddrs, cfg.RedisSentinelMaster, cfg.RedisSentinelPassword, cfg.RedisClusterAddrs, cfg.RedisConfigured(),
				c.topology, c.sentinels, c.master, c.pass, c.cluster, c.configured)
		}
	}

	cfg, err := Load(env(nil))
	if err != nil || cfg.MigrateDatabaseURL != cfg.DatabaseURL {
		t.Errorf("MIGRATE_DATABASE_URL unset: got %q (%v), want DATABASE_URL", cfg.MigrateDatabaseURL, err)
	}
	direct := "postgres://app:pw@direct.example.com:5432/app"
	if cfg, err := Load(env(map[string]string{"MIGRATE_DATABASE_URL": direct})); err != nil || cfg.MigrateDatabaseURL != direct {
		t.Errorf("MIGRATE_DATABASE_URL set: got %q (%v), want %q", cfg.MigrateDatabaseURL, err, direct)
	}
}

func TestLoadRefusesBadRedisTopologies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		vars map[string]string
		name string // the variable the one-line error names
	}{
		{map[string]string{"REDIS_SENTINEL_ADDRS": "s:26379"}, "REDIS_SENTINEL_MASTER"},
		{map[string]string{"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER"},
		{map[string]string{"REDIS_SENTINEL_ADDRS": "s:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_CLUSTER_ADDRS": "n:6379"}, "REDIS_CLUSTER_ADDRS"},
		{map[string]string{"MIGRATE_DATABASE_URL": "mysql://x"}, "MIGRATE_DATABASE_URL"},
	}
	for _, c := range cases {
		_, err := Load(env(c.vars))
		if err == nil || !strings.HasPrefix(err.Error(), "config: "+c.name+":") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want one line starting config: %s:", c.vars, err, c.name)
		}
	}
}
