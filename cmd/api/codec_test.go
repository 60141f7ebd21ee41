package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/postgres"
)

// TestSessionCodecGobWritesWhatOlderReleasesRead: with SESSION_CODEC=gob a
// signed-in session's record in PostgreSQL is scs's gob, which a release
// before the compact codec reads, and the api itself keeps working on it.
func TestSessionCodecGobWritesWhatOlderReleasesRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		codec   string
		wantGob bool
	}{{"gob", true}, {"compact", false}} {
		t.Run(tc.codec, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			env["SESSION_STORE"] = "postgres"
			env["SESSION_CODEC"] = tc.codec
			createUser(t, env, "gob@example.com", false)
			c := newClient(t, startAPI(t, env))
			c.login("gob@example.com", false)
			if r := c.do("GET", "/api/me", nil); r.Status != http.StatusOK {
				t.Fatalf("GET /api/me: got %d %s, want 200", r.Status, r.Body)
			}
			db, err := postgres.Open(context.Background(), env["DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var data []byte
			if err := db.Pool.QueryRow(context.Background(),
				`SELECT data FROM sessions WHERE NOT revoked AND user_id IS NOT NULL AND user_id > 0 ORDER BY expiry DESC LIMIT 1`).Scan(&data); err != nil {
				t.Fatal(err)
			}
			_, _, err = scs.GobCodec{}.Decode(data)
			if gotGob := err == nil; gotGob != tc.wantGob {
				t.Errorf("SESSION_CODEC=%s: the stored session decodes as gob: %v, want %v", tc.codec, gotGob, tc.wantGob)
			}
		})
	}
}
