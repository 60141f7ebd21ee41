package session

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// TestCodecReadsStoredV1Payload decodes a version-1 payload written once by
// this release's codec (testdata/session-v1.bin; never regenerate it) and
// checks every key's value. Stored sessions name the known keys by their
// position in knownKeys, so reordering or removing one reads this payload
// wrongly and fails here; appending keys leaves it valid. The key names are
// spelled out, not taken from the constants, so a renamed key fails too.
func TestCodecReadsStoredV1Payload(t *testing.T) {
	t.Parallel()
	stored, err := os.ReadFile("testdata/session-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	if stored[0] != codecV1 {
		t.Fatalf("fixture version byte: got %#x, want %#x", stored[0], codecV1)
	}
	deadline, values, err := Codec{}.Decode(stored)
	if err != nil {
		t.Fatalf("decode the stored payload: %v", err)
	}
	if want := time.Date(2026, 12, 4, 12, 0, 0, 250000000, time.UTC); !deadline.Equal(want) {
		t.Errorf("deadline: got %v, want %v", deadline, want)
	}
	// Distinct values (and true/false for the two bools) so that any two
	// keys trading places is seen.
	want := map[string]any{
		"user_id":          int64(42),
		"deal_id":          int64(7),
		"deal_gone":        true,
		"created_at":       int64(1764590400),
		"seen_at":          int64(1764590460),
		"ip":               "203.0.113.9",
		"ua":               "Mozilla/5.0 (X11; Linux x86_64)",
		"remember":         "sel-fixture",
		"remembered":       false,
		"restored_deal_id": int64(9),
		"fixture.unlisted": "spelled out", // a key without a code
	}
	for k, v := range want {
		if got, ok := values[k]; !ok || got != v {
			t.Errorf("key %q: got %#v (present %v), want %#v", k, got, ok, v)
		}
	}
	for k, v := range values {
		if _, ok := want[k]; !ok {
			t.Errorf("key %q: got %#v, want no such key", k, v)
		}
	}
	// The accessors read what the payload says, under today's constants.
	for k, name := range map[string]string{
		keyUserID: "user_id", keyDealID: "deal_id", keyDealGone: "deal_gone", keyCreatedAt: "created_at",
		keySeenAt: "seen_at", keyIP: "ip", keyUserAgent: "ua", keyRemember: "remember",
		keyRemembered: "remembered", keyRestored: "restored_deal_id",
	} {
		if k != name {
			t.Errorf("key constant: got %q, want %q (stored gob sessions and this payload use the name)", k, name)
		}
	}
	// Encoding the values again writes the stored bytes: nothing in the
	// format moved.
	again, err := Codec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, stored) {
		t.Errorf("encode the stored values: got %x, want the stored %x", again, stored)
	}
}
