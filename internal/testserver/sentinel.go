package testserver

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the Sentinels of StartSentinelGroup watch.
const SentinelMaster = "dealctx"

// SentinelGroup is a Redis primary, one replica and three Sentinels (quorum
// two) on loopback ports, tuned to fail over within seconds.
type SentinelGroup struct {
	t         testing.TB
	Primary   *Redis // the server that was primary at the start
	Replica   *Redis // the server that was its replica
	Sentinels []*Redis

	// masterPassword is the data servers' requirepass (and the replica's
	// masterauth); sentinelPassword the Sentinels' own. "" is none.
	masterPassword, sentinelPassword string
}

// StartSentinelGroup starts the group and waits until every Sentinel knows
// the replica and the other Sentinels, so that a failover can happen; all of
// it is killed when the test ends.
func StartSentinelGroup(t testing.TB) *SentinelGroup {
	t.Helper()
	return StartSentinelGroupWithPasswords(t, "", "")
}

// StartSentinelGroupWithPasswords is StartSentinelGroup with passwords, as a
// managed Redis has them: the primary and the replica require
// masterPassword (the replica also authenticates to its primary with it),
// and the Sentinels require sentinelPassword of clients and of each other
// while they authenticate to the servers with masterPassword.
func StartSentinelGroupWithPasswords(t testing.TB, masterPassword, sentinelPassword string) *SentinelGroup {
	t.Helper()
	dir := t.TempDir()
	g := &SentinelGroup{t: t, masterPassword: masterPassword, sentinelPassword: sentinelPassword}
	var auth []string
	if masterPassword != "" {
		auth = []string{"--requirepass", masterPassword, "--masterauth", masterPassword}
	}
	g.Primary = startRedis(t, filepath.Join(dir, "primary"), FreePort(t), "", auth...)
	g.Replica = startRedis(t, filepath.Join(dir, "replica"), FreePort(t), "",
		append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(g.Primary.Port)}, auth...)...)
	for i := range 3 {
		port := FreePort(t)
		// Sentinel rewrites its configuration file, so it needs one.
		conf := fmt.Sprintf(`sentinel monitor %[1]s 127.0.0.1 %[2]d 2
sentinel down-after-milliseconds %[1]s 1000
sentinel failover-timeout %[1]s 5000
sentinel parallel-syncs %[1]s 1
sentinel resolve-hostnames no
sentinel announce-ip 127.0.0.1
`, SentinelMaster, g.Primary.Port)
		if masterPassword != "" {
			conf += fmt.Sprintf("sentinel auth-pass %s %s\n", SentinelMaster, masterPassword)
		}
		if sentinelPassword != "" {
			conf += fmt.Sprintf("requirepass %[1]s\nsentinel sentinel-pass %[1]s\n", sentinelPassword)
		}
		g.Sentinels = append(g.Sentinels, startRedis(t, filepath.Join(dir, "sentinel"+strconv.Itoa(i)), port, conf, "--sentinel"))
	}
	g.waitReady(30 * time.Second)
	return g
}

// Addrs are the Sentinels' host:port, for REDIS_SENTINEL_ADDRS.
func (g *SentinelGroup) Addrs() []string {
	addrs := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		addrs[i] = s.Addr()
	}
	return addrs
}

// MasterName is the name the Sentinels know the primary by, for
// REDIS_SENTINEL_MASTER.
func (g *SentinelGroup) MasterName() string { return SentinelMaster }

func (g *SentinelGroup) waitReady(timeout time.Duration) {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ready, why := true, ""
		for _, s := range g.Sentinels {
			c := g.sentinelClient(s)
			m, err := c.Master(context.Background(), SentinelMaster).Result()
			_ = c.Close()
			if err != nil {
				ready, why = false, err.Error()
				break
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				ready, why = false, fmt.Sprintf("sentinel %s sees %s replicas and %s other sentinels", s.Addr(), m["num-slaves"], m["num-other-sentinels"])
				break
			}
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("testserver: sentinel group not ready within %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (g *SentinelGroup) sentinelClient(s *Redis) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), Password: g.sentinelPassword, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
}

// masterOf is the master's host:port as Sentinel s reports it.
func (g *SentinelGroup) masterOf(s *Redis) (string, error) {
	c := g.sentinelClient(s)
	defer func() { _ = c.Close() }()
	addr, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
	if err != nil {
		return "", err
	}
	if len(addr) != 2 {
		return "", fmt.Errorf("sentinel %s: unexpected master address %q", s.Addr(), addr)
	}
	return net.JoinHostPort(addr[0], addr[1]), nil
}

// MasterAddr is the primary's host:port as the first Sentinel that answers
// reports it.
func (g *SentinelGroup) MasterAddr() string {
	g.t.Helper()
	var last error
	for _, s := range g.Sentinels {
		addr, err := g.masterOf(s)
		if err == nil {
			return addr
		}
		last = err
	}
	g.t.Fatalf("testserver: no sentinel names the master: %v", last)
	return ""
}

// KillPrimary kills the current primary (SIGKILL), as a crash would, and
// returns the server killed.
func (g *SentinelGroup) KillPrimary() *Redis {
	g.t.Helper()
	addr := g.MasterAddr()
	for _, r := range []*Redis{g.Primary, g.Replica} {
		if r.Addr() == addr {
			r.Kill()
			return r
		}
	}
	g.t.Fatalf("testserver: master %s is neither of the group's servers", addr)
	return nil
}

// WaitFailover waits up to timeout until every Sentinel names a master
// other than old (a host:port) and that master answers as a primary, and
// returns its address.
func (g *SentinelGroup) WaitFailover(old string, timeout time.Duration) string {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		addr, ok := g.agreedMaster()
		if ok && addr != old && isPrimary(addr, g.masterPassword) {
			return addr
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("testserver: no failover away from %s within %s (sentinels say %q)", old, timeout, addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (g *SentinelGroup) agreedMaster() (string, bool) {
	var first string
	for i, s := range g.Sentinels {
		a, err := g.masterOf(s)
		if err != nil {
			return "", false
		}
		if i == 0 {
			first = a
		} else if a != first {
			return first, false
		}
	}
	return first, true
}

func isPrimary(addr, password string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	role, err := c.Do(context.Background(), "ROLE").Slice()
	return err == nil && len(role) > 0 && role[0] == "master"
}
