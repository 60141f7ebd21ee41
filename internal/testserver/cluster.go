package testserver

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/devenv"
	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three primaries (no replicas) on loopback
// ports, made by redis-cli --cluster create.
type Cluster struct {
	t     testing.TB
	Nodes []*Redis
}

// StartCluster starts three cluster-enabled redis-servers, joins them with
// redis-cli (REDIS_CLI_BIN, else redis-cli on PATH), and waits until every
// node reports cluster_state:ok; all of it is killed when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{t: t}
	args := []string{"redis-cli", "--cluster", "create"}
	for i := range 3 {
		// The cluster bus gets a port of its own: the default, port+10000,
		// may be taken or out of range.
		c.Nodes = append(c.Nodes, startRedis(t, filepath.Join(dir, "node"+strconv.Itoa(i)), FreePort(t), "",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000", "--cluster-port", strconv.Itoa(FreePort(t))))
		args = append(args, c.Nodes[i].Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := startCtx()
	defer cancel()
	out, err := exec.CommandContext(ctx, find(t, devenv.RedisCLIProgram()), args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("testserver: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitOK(30 * time.Second)
	return c
}

// Addrs are the nodes' host:port, for REDIS_CLUSTER_ADDRS.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// State is CLUSTER INFO's cluster_state as node i reports it ("ok" when the
// cluster serves every slot).
func (c *Cluster) State(i int) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: c.Nodes[i].Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer func() { _ = rdb.Close() }()
	info, err := rdb.ClusterInfo(context.Background()).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			return v, nil
		}
	}
	return "", nil
}

func (c *Cluster) waitOK(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		var state string
		var err error
		for i := range c.Nodes {
			if state, err = c.State(i); err != nil || state != "ok" {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("testserver: cluster not ok within %s: state %q, %v", timeout, state, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
