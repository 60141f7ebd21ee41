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
