package postgres

import (
	"context"
	"testing"
	"time"
)

func TestSessionRecordsAndRevocation(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	older := time.Now().Add(-time.Hour).Truncate(time.Second)
	if _, err := db.CommitSession(ctx, "old", []byte("a"), exp, SessionRecord{UserID: 7, CreatedAt: older, IP: "192.0.2.1", UserAgent: "UA", Remembered: true, RememberSelector: "sel"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CommitSession(ctx, "new", []byte("b"), exp, SessionRecord{UserID: 7}); err != nil {
		t.Fatal(err)
	}
	var ip, ua, sel string
	var remembered bool
	var created time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT ip, user_agent, remembered, remember_selector, created_at FROM sessions WHERE token = 'old'`).
		Scan(&ip, &ua, &remembered, &sel, &created); err != nil {
		t.Fatal(err)
	}
	if ip != "192.0.2.1" || ua != "UA" || !remembered || sel != "sel" || !created.Equal(older) {
		t.Errorf("record: got %q %q %v %q %s, want the committed record", ip, ua, remembered, sel, created)
	}
	live, err := db.FindSessionsForUser(ctx, 7)
	if err != nil || len(live) != 2 || live[0].Token != "new" {
		t.Fatalf("sessions: got %+v (%v), want new then old", live, err)
	}
	if err := db.RevokeSessions(ctx, []string{"old", "never-stored"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if written, _ := db.CommitSession(ctx, "old", []byte("a"), exp, SessionRecord{UserID: 7}); written {
		t.Errorf("commit over a tombstone: got written, want refused")
	}
	if live, _ := db.FindSessionsForUser(ctx, 7); len(live) != 1 {
		t.Errorf("sessions after revoking one: got %d, want 1", len(live))
	}
	if _, found, _ := db.FindSession(ctx, "never-stored"); found {
		t.Errorf("a tombstone for a never-stored token: got found, want not")
	}
}

func TestSessionInvalidationsStayWithTheirTarget(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if err := db.QueueSessionInvalidations(ctx, "a", []string{"t1", "t2"}, false, exp); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueSessionInvalidation(ctx, "b", "t3", true, exp); err != nil {
		t.Fatal(err)
	}
	// An evict queued again as a revoke stays a revoke, and never the reverse.
	if err := db.QueueSessionInvalidation(ctx, "a", "t1", true, exp); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueSessionInvalidation(ctx, "a", "t1", false, exp); err != nil {
		t.Fatal(err)
	}
	a, err := db.PendingSessionInvalidations(ctx, "a", 10)
	if err != nil || len(a) != 2 {
		t.Fatalf("target a: got %d (%v), want 2", len(a), err)
	}
	for _, inv := range a {
		if inv.Token == "t1" && !inv.Revoke {
			t.Errorf("t1: got an evict, want the revoke kept")
		}
	}
	if b, _ := db.PendingSessionInvalidations(ctx, "b", 10); len(b) != 1 || b[0].Token != "t3" {
		t.Errorf("target b: got %+v, want t3 alone", b)
	}
	if err := db.DeleteSessionInvalidations(ctx, a); err != nil {
		t.Fatal(err)
	}
	if b, _ := db.PendingSessionInvalidations(ctx, "b", 10); len(b) != 1 {
		t.Errorf("target b after a replayed: got %d, want 1", len(b))
	}
}
