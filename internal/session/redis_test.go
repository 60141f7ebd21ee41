package session

import (
	"context"
	"testing"
	"time"
)

// In redis mode each user's sessions are indexed in a set that lives as
// long as the user's longest session and loses ended sessions when read.
func TestRedisUserIndexFollowsSessions(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t, testRedisAddr(t))
	rs := NewRedisStore(rdb, prefix(t), lifetime)
	ctx := context.Background()
	a, b := newToken(t), newToken(t)
	pa, _ := payload(t, 7, 0)
	if err := rs.CommitCtx(ctx, a, pa, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := rs.CommitCtx(ctx, b, pa, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, rs.userKey(7)).Val(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("index TTL: got %s, want the longest session's (about 1h)", ttl)
	}
	if err := rs.CommitCtx(ctx, a, pa, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, rs.userKey(7)).Val(); ttl < 59*time.Minute {
		t.Errorf("index TTL after a shorter session's commit: got %s, want it kept at about 1h", ttl)
	}
	if err := rs.DeleteCtx(ctx, a); err != nil {
		t.Fatal(err)
	}
	live, err := rs.userSessions(ctx, 7)
	if err != nil || len(live) != 1 || live[0].Token != b {
		t.Fatalf("live sessions: got %d (%v), want only b", len(live), err)
	}
	if members := rdb.SMembers(ctx, rs.userKey(7)).Val(); len(members) != 1 || members[0] != b {
		t.Errorf("index after the read: got %d members, want only b's", len(members))
	}
	// A logged-out session's late commit is refused and not indexed as live.
	if err := rs.CommitCtx(ctx, a, pa, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if live, _ := rs.userSessions(ctx, 7); len(live) != 1 {
		t.Errorf("live sessions after a late commit of a logged-out session: got %d, want 1", len(live))
	}
}

// A session this process just wrote is read with its generation copies in
// one round trip on its very next read (the write names its user and deal
// to the store); a process that never saw it learns them on the first read.
func TestGenerationsComeWithTheFirstReadAfterAWrite(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t, testRedisAddr(t))
	p := prefix(t)
	gens := func() *gensKeys {
		return &gensKeys{user: p + "gen:user:", deal: p + "gen:deal:", global: p + "gen:global"}
	}
	writer, other := NewRedisStore(rdb, p, lifetime), NewRedisStore(rdb, p, lifetime)
	writer.gens, other.gens = gens(), gens()
	ctx := context.Background()
	if err := rdb.MSet(ctx, p+"gen:user:7", "3", p+"gen:deal:42", "5", p+"gen:global", "1").Err(); err != nil {
		t.Fatal(err)
	}
	token := newToken(t)
	b, err := Codec{}.Encode(time.Now().Add(time.Hour), map[string]any{keyUserID: int64(7), keyDealID: int64(42)})
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.CommitCtx(ctx, token, b, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	read := func(s *RedisStore) *ids {
		t.Helper()
		c := &ids{}
		if _, l, err := s.find(context.WithValue(ctx, idsKey{}, c), token); err != nil || l != live {
			t.Fatalf("find: got %v, %v, want a live session", l, err)
		}
		return c
	}
	if c := read(writer); c.gens == nil || c.gensUser != 7 || c.gensDeal != 42 || c.gens[0] != "3" || c.gens[1] != "5" || c.gens[2] != "1" {
		t.Fatalf("the writer's first read: got generations %v for user %d deal %d, want [3 5 1] for user 7 deal 42", c.gens, c.gensUser, c.gensDeal)
	}
	if c := read(other); c.gens != nil {
		t.Fatalf("another process's first read: got generations %v, want none (it learns the ids from this read)", c.gens)
	}
	if c := read(other); c.gens == nil || c.gensUser != 7 || c.gensDeal != 42 {
		t.Fatalf("another process's second read: got generations %v for user %d deal %d, want them for user 7 deal 42", c.gens, c.gensUser, c.gensDeal)
	}
}
