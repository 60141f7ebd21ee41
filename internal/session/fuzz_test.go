package session

import (
	"testing"
	"time"
)

func FuzzSessionPayload(f *testing.F) {
	for _, values := range []map[string]any{
		{keyUserID: int64(7)},
		{keyUserID: int64(7), keyDealID: int64(9)},
		{keyUserID: "7"},
		{},
	} {
		b, err := Codec{}.Encode(time.Now().Add(time.Hour), values)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\x00\x01\x02garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id := UserIDFromData(b)
		_, values, err := Codec{}.Decode(b)
		if err != nil {
			if id != 0 {
				t.Fatalf("UserIDFromData on undecodable data: got %d, want 0", id)
			}
			return
		}
		want, _ := values[keyUserID].(int64)
		if id != want {
			t.Fatalf("UserIDFromData: got %d, want %d", id, want)
		}
	})
}

func FuzzValidToken(f *testing.F) {
	for _, s := range []string{"", "abc", "0123456789012345678901234567890123456789012", "a b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validToken(s) {
			return
		}
		if len(s) != 43 {
			t.Fatalf("validToken(%q): true for %d bytes, want only 43", s, len(s))
		}
		for _, c := range s {
			if c > 127 {
				t.Fatalf("validToken(%q): true with a non-ASCII byte", s)
			}
		}
	})
}
