package session

import (
	"maps"
	"os"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// fullSession is what a signed-in session holds today, every key set.
func fullSession() map[string]any {
	return map[string]any{
		keyUserID: int64(42), keyDealID: int64(7), keyDealGone: false,
		keyCreatedAt: int64(1764590400), keySeenAt: int64(1764590460),
		keyIP: "203.0.113.9", keyUserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		keyRemember: "sel123", keyRemembered: true,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)
	for name, values := range map[string]map[string]any{
		"empty":          {},
		"signed in":      fullSession(),
		"negative id":    {keyUserID: int64(-1), keyDealID: int64(1 << 62)},
		"flash":          {keyUserID: int64(1), keyRestored: int64(9)},
		"unknown keys":   {"some_other": "x", "n": int64(3), "b": true},
		"empty string":   {keyIP: "", keyUserAgent: ""},
		"unicode string": {keyUserAgent: "Navigateur — ünïcode ✓"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := Codec{}.Encode(deadline, values)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != codecV1 {
				t.Fatalf("got version byte %#x, want %#x", b[0], codecV1)
			}
			gotDeadline, got, err := Codec{}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !gotDeadline.Equal(deadline) {
				t.Errorf("got deadline %v, want %v", gotDeadline, deadline)
			}
			if !maps.Equal(got, values) {
				t.Errorf("got %v, want %v", got, values)
			}
		})
	}
}

func TestCodecIsDeterministicAndSmallerThanGob(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Hour)
	a, _ := Codec{}.Encode(deadline, fullSession())
	b, _ := Codec{}.Encode(deadline, fullSession())
	if string(a) != string(b) {
		t.Errorf("two encodings of the same session differ: %x and %x", a, b)
	}
	g, _ := scs.GobCodec{}.Encode(deadline, fullSession())
	if len(a)*3 > len(g) {
		t.Errorf("got %d bytes, want at most a third of gob's %d", len(a), len(g))
	}
}

// Sessions written before the compact codec (scs's gob) keep working: a
// payload stored by that code decodes to what it held.
func TestCodecDecodesGobPayloads(t *testing.T) {
	t.Parallel()
	stored, err := os.ReadFile("testdata/session-gob-v0.bin")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := scs.GobCodec{}.Encode(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), fullSession())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"stored by the old code": stored, "gob of today's scs": fresh} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			deadline, got, err := Codec{}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if want := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC); !deadline.Equal(want) {
				t.Errorf("got deadline %v, want %v", deadline, want)
			}
			if !maps.Equal(got, fullSession()) {
				t.Errorf("got %v, want %v", got, fullSession())
			}
			if id := UserIDFromData(b); id != 42 {
				t.Errorf("UserIDFromData: got %d, want 42", id)
			}
		})
	}
}

// A value the compact format does not hold is written as gob, which still
// decodes.
func TestCodecFallsBackToGobForOtherTypes(t *testing.T) {
	t.Parallel()
	values := map[string]any{keyUserID: int64(1), "ratio": 0.5}
	b, err := Codec{}.Encode(time.Now().Add(time.Hour), values)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] == codecV1 {
		t.Fatal("got the compact format for a float64 value, want gob")
	}
	_, got, err := Codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, values) {
		t.Errorf("got %v, want %v", got, values)
	}
}

func TestCodecRejectsGarbage(t *testing.T) {
	t.Parallel()
	good, _ := Codec{}.Encode(time.Now(), fullSession())
	for name, b := range map[string][]byte{
		"empty":           {},
		"version only":    {codecV1},
		"truncated":       good[:len(good)-3],
		"one entry short": {codecV1, 0, 0, 2, 3, tagTrue},
		"trailing bytes":  {codecV1, 0, 0, 1, 3, tagTrue, 3},
		"unknown key":     {codecV1, 0, 0, 1, 200, tagTrue},
		"unknown tag":     {codecV1, 0, 0, 1, 1, 'x'},
		"string too long": {codecV1, 0, 0, 1, 6, tagStr, 50, 'a'},
		"duplicate key":   {codecV1, 0, 0, 2, 3, tagTrue, 3, tagFalse},
		"huge count":      {codecV1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad nanoseconds": {codecV1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"not gob":         []byte("\xfe\x00garbage"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, v, err := (Codec{}).Decode(b); err == nil {
				t.Errorf("Decode(%x): got %v and no error, want an error", b, v)
			}
		})
	}
}

func FuzzCodec(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{codecV1, 0, 0, 0})
	b, _ := Codec{}.Encode(time.Now(), fullSession())
	f.Add(b)
	g, _ := scs.GobCodec{}.Encode(time.Now(), fullSession())
	f.Add(g)
	f.Fuzz(func(t *testing.T, b []byte) {
		deadline, values, err := Codec{}.Decode(b)
		if err != nil || len(b) == 0 || b[0] != codecV1 {
			return
		}
		again, err := Codec{}.Encode(deadline, values)
		if err != nil {
			t.Fatal(err)
		}
		d2, v2, err := Codec{}.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		if !d2.Equal(deadline) || !maps.Equal(v2, values) {
			t.Fatalf("round trip: got %v %v, want %v %v", d2, v2, deadline, values)
		}
	})
}

// TestCodecWriteGobIsReadableByOlderReleases: with SESSION_CODEC=gob the api
// writes what a release before the compact codec (scs.GobCodec alone) reads,
// and reads it back itself.
func TestCodecWriteGobIsReadableByOlderReleases(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	b, err := Codec{WriteGob: true}.Encode(deadline, fullSession())
	if err != nil {
		t.Fatal(err)
	}
	for name, dec := range map[string]scs.Codec{"an older release": scs.GobCodec{}, "this release": Codec{}} {
		gotDeadline, got, err := dec.Decode(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if !gotDeadline.Equal(deadline) || !maps.Equal(got, fullSession()) {
			t.Errorf("%s: got %v %v, want %v %v", name, gotDeadline, got, deadline, fullSession())
		}
	}
	if _, _, err := (scs.GobCodec{}).Decode(encodeFull(t, Codec{}, deadline)); err == nil {
		t.Error("an older release decoded the compact format; the two-step upgrade note would be wrong")
	}
}

func encodeFull(t *testing.T, c Codec, deadline time.Time) []byte {
	t.Helper()
	b, err := c.Encode(deadline, fullSession())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
