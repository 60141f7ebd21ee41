package session

import (
	"maps"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// TestCodecReadsPreviousRelease is the rolling-deploy rule for sessions (see
// docs/operations.md): a payload written by the previous release's codec
// (scs.GobCodec) decodes in the current one with every value intact, and
// with SESSION_CODEC=gob the current release writes what the previous one
// reads, so old and new processes side by side sign no one out.
func TestCodecReadsPreviousRelease(t *testing.T) {
	deadline := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	values := map[string]any{
		keyUserID: int64(42), keyDealID: int64(7), keyRemember: true,
		keyIP: "203.0.113.9", keyUserAgent: "Mozilla/5.0", "flash": "saved",
	}
	old, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	gotDeadline, got, err := Codec{}.Decode(old)
	if err != nil {
		t.Fatalf("current codec cannot read the previous release's payload: %v", err)
	}
	if !gotDeadline.Equal(deadline) || !maps.Equal(got, values) {
		t.Errorf("previous release's payload decoded as %v %v, want %v %v", gotDeadline, got, deadline, values)
	}

	fallback, err := Codec{WriteGob: true}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	gotDeadline, got, err = scs.GobCodec{}.Decode(fallback)
	if err != nil || !gotDeadline.Equal(deadline) || !maps.Equal(got, values) {
		t.Errorf("previous release cannot read SESSION_CODEC=gob payload: %v %v %v", gotDeadline, got, err)
	}
}
