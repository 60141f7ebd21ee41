package session

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/redisepoch"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// rollbackSetup is one api process whose sessions live in a private
// redis-server that the test can snapshot and restart from that snapshot,
// with the epoch tracker wired as `api serve` wires it.
type rollbackSetup struct {
	*deviceSetup
	redis  *testserver.Redis
	rdb    redis.UniversalClient
	epoch  *redisepoch.Tracker
	prefix string
}

func newRollbackSetup(t *testing.T, mode StoreMode, idle time.Duration, tune ...func(*config.Config)) *rollbackSetup {
	t.Helper()
	srv := testserver.StartRedis(t)
	cfg := config.Config{RedisURL: srv.URL(), RedisKeyPrefix: prefix(t), RedisTopology: config.TopologySingle,
		SessionLifetime: lifetime, SessionIdleTimeout: idle, SessionStore: string(mode)}
	for _, f := range tune {
		f(&cfg)
	}
	s := openRollbackSetup(t, cfg)
	s.redis = srv
	return s
}

// openRollbackSetup opens cfg's store over a fresh database, with the epoch
// tracker on the one Redis client, as `api serve` does.
func openRollbackSetup(t *testing.T, cfg config.Config) *rollbackSetup {
	t.Helper()
	db := pgtest.NewDB(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tracker := redisepoch.New(db, RedisTarget(cfg), logger)
	rdb, err := redisclient.OpenChecked(cfg, redisclient.RequestTimeouts, tracker.OnConnect)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	m, err := Open(context.Background(), cfg, db, rdb, tracker.Epoch, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	c := &clock{now: time.Now()}
	m.opts.Now = c.Now
	return &rollbackSetup{deviceSetup: &deviceSetup{m: m, db: db, clock: c}, rdb: rdb, epoch: tracker, prefix: cfg.RedisKeyPrefix}
}

// snapshot writes the server's RDB file now.
func (s *rollbackSetup) snapshot(t *testing.T) {
	t.Helper()
	if err := s.rdb.Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// restartFromSnapshot kills the server and starts it again on the same port
// from the RDB file: everything written since the snapshot is gone.
func (s *rollbackSetup) restartFromSnapshot(t *testing.T) {
	t.Helper()
	s.redis.Kill()
	s.redis.Start()
}

// live reports whether token's session still signs its user in, loading it
// as a request would (tolerating the one failed command a restart costs).
func (s *rollbackSetup) live(t *testing.T, token string) bool {
	t.Helper()
	for range 3 {
		ctx, err := s.m.load(context.Background(), token)
		if err == nil {
			return s.m.UserID(ctx) != 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err := s.m.load(context.Background(), token)
	t.Fatalf("session %s could not be loaded: %v", token[:6], err)
	return false
}

// A session ended before Redis went back in time stays ended after it, from
// the first request, in both modes where Redis holds sessions; one that was
// not ended keeps working.
func TestRedisRestoredFromSnapshotRevivesNoEndedSession(t *testing.T) {
	t.Parallel()
	ends := []struct {
		name string
		end  func(t *testing.T, s *rollbackSetup, token string)
	}{
		{"logout", func(t *testing.T, s *rollbackSetup, token string) {
			if err := s.m.Destroy(s.request(t, token)); err != nil {
				t.Fatal(err)
			}
		}},
		{"every session of the user (password change, api user disable)", func(t *testing.T, s *rollbackSetup, _ string) {
			if err := s.m.RevokeUser(context.Background(), 7); err != nil {
				t.Fatal(err)
			}
		}},
		{"sign out this device", func(t *testing.T, s *rollbackSetup, token string) {
			other := s.signIn(t, 7, Origin{IP: "192.0.2.9"})
			cur := s.request(t, other)
			list, err := s.m.List(cur, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range list {
				if !d.Current {
					if _, err := s.m.RevokeByHandle(cur, 7, d.Handle); err != nil {
						t.Fatal(err)
					}
				}
			}
		}},
		{"theft detection", func(t *testing.T, s *rollbackSetup, _ string) {
			if err := s.m.EndTheft(context.Background(), deal.Actor{IP: "192.0.2.9"}, 7); err != nil {
				t.Fatal(err)
			}
		}},
		{"idle timeout", func(t *testing.T, s *rollbackSetup, token string) {
			s.clock.Add(2 * time.Hour)
			ctx := s.request(t, token)
			if err := s.m.endIfIdle(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, mode := range []StoreMode{ModeTiered, ModeRedis} {
		for _, e := range ends {
			t.Run(string(mode)+"/"+e.name, func(t *testing.T) {
				t.Parallel()
				s := newRollbackSetup(t, mode, time.Hour)
				ended := s.signIn(t, 7, Origin{IP: "192.0.2.1", RememberSelector: "sel-a"})
				kept := s.signIn(t, 8, Origin{IP: "192.0.2.2"})
				if !s.live(t, ended) || !s.live(t, kept) {
					t.Fatal("sessions not live after sign-in")
				}
				s.snapshot(t)
				e.end(t, s, ended)
				if s.live(t, ended) {
					t.Fatal("ended session still live before the rollback")
				}
				before := s.epoch.Epoch()
				s.restartFromSnapshot(t)
				if s.live(t, ended) {
					t.Errorf("after Redis came back from a snapshot taken before the session ended: got a live session, want it ended")
				}
				if after := s.epoch.Epoch(); after <= before {
					t.Errorf("epoch after the restart: got %d, want more than %d", after, before)
				}
				if mode == ModeRedis && e.name == "idle timeout" {
					return // the kept session is idle too
				}
				if !s.live(t, kept) {
					t.Errorf("a session that was not ended: got it ended by the rollback, want it live")
				}
				if s.live(t, ended) {
					t.Errorf("second request: got the ended session live again")
				}
			})
		}
	}
}

// A Sentinel failover to a replica that missed the logout (it was frozen
// while the tombstone was written) brings the session back in the new
// master; the new master's identity moves the epoch, so the first request
// after the failover still finds the session ended.
func TestFailoverToAReplicaThatMissedTheLogoutRevivesNoSession(t *testing.T) {
	t.Parallel()
	for _, mode := range []StoreMode{ModeTiered, ModeRedis} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			group := testserver.StartSentinelGroup(t)
			cfg := config.Config{RedisKeyPrefix: prefix(t), RedisTopology: config.TopologySentinel,
				RedisSentinelAddrs: group.Addrs(), RedisSentinelMaster: group.MasterName(),
				SessionLifetime: lifetime, SessionStore: string(mode)}
			s := openRollbackSetup(t, cfg)
			m, tracker := s.m, s.epoch

			ended := s.signIn(t, 7, Origin{IP: "192.0.2.1"})
			// The replica holds the live session before it falls behind.
			replica := newRedis(t, group.Replica.Addr())
			waitFor(t, 5*time.Second, "the replica to hold the session", func() bool {
				return replica.Exists(context.Background(), cfg.RedisKeyPrefix+"session:"+ended).Val() == 1
			})
			// Cut replication while the replica is frozen, so that nothing
			// written from now on reaches it, not even through a socket buffer.
			group.Replica.Freeze()
			if err := newRedis(t, group.MasterAddr()).Do(context.Background(), "CLIENT", "KILL", "TYPE", "replica").Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.m.Destroy(s.request(t, ended)); err != nil {
				t.Fatal(err)
			}
			before := tracker.Epoch()
			old := group.MasterAddr()
			group.KillPrimary()
			group.Replica.Thaw()
			promoted := group.WaitFailover(old, 30*time.Second)
			// The scenario: the new master still holds the live copy.
			if v, err := newRedis(t, promoted).Get(context.Background(), cfg.RedisKeyPrefix+"session:"+ended).Result(); err != nil || v == tombstone {
				t.Fatalf("promoted replica: got %q (%v), want the live copy it kept", v, err)
			}
			if s.live(t, ended) {
				t.Errorf("after a failover to a replica that missed the logout: got a live session, want it ended")
			}
			if mode == ModeTiered {
				// Once the tiered store trusts Redis again, reads use the
				// new master: the epoch must still keep its copy out.
				waitFor(t, 15*time.Second, "redis trusted again", func() bool { return m.BreakerState() == "closed" })
				if s.live(t, ended) {
					t.Errorf("with Redis trusted again after the failover: got a live session, want it ended")
				}
			}
			if after := tracker.Epoch(); after <= before {
				t.Errorf("epoch after the failover: got %d, want more than %d", after, before)
			}
		})
	}
}

// The first step of an upgrade (SESSION_CODEC=gob) writes copies the
// previous release reads: gob payloads with no stamp, so old and new
// processes share Redis during a rolling deploy. This release checks each
// such copy against PostgreSQL, so a rollback revives nothing then either.
func TestUpgradeStepWritesCopiesThePreviousReleaseReads(t *testing.T) {
	t.Parallel()
	for _, mode := range []StoreMode{ModeTiered, ModeRedis} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := newRollbackSetup(t, mode, time.Hour, func(c *config.Config) { c.SessionCodecGob = true })
			ended := s.signIn(t, 7, Origin{IP: "192.0.2.1"})
			raw, err := s.rdb.Get(context.Background(), s.prefix+"session:"+ended).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			// What the previous release does with a copy: scs's gob codec.
			if _, values, err := (scs.GobCodec{}).Decode(raw); err != nil || values[keyUserID] != int64(7) {
				t.Fatalf("the previous release reading the copy: got %v (%v), want user 7", values, err)
			}
			s.snapshot(t)
			if err := s.m.Destroy(s.request(t, ended)); err != nil {
				t.Fatal(err)
			}
			s.restartFromSnapshot(t)
			if s.live(t, ended) {
				t.Errorf("after a rollback during the upgrade step: got the ended session live, want it ended")
			}
		})
	}
}
