package session

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
)

// A copy's stamp gives back its epoch and payload whichever form it takes,
// and the ids form names the session's user and deal for the next read.
func TestStampsGiveBackEpochPayloadAndIDs(t *testing.T) {
	payload := []byte{codecV1, 1, 2, 3}
	for _, c := range []struct {
		name           string
		epoch          uint64
		userID, dealID int64
		magic          byte
	}{
		{"no deal", 7, 42, 0, stampMagic},
		{"no user", 7, 0, 9, stampMagic},
		{"user and deal", 300, 42, 9, stampIDsMagic},
		{"largest ids", 1 << 40, 1<<63 - 1, 1<<63 - 1, stampIDsMagic},
	} {
		v := stamp(c.epoch, c.userID, c.dealID, payload)
		if v[0] != c.magic {
			t.Errorf("%s: stamped with %#x, want %#x", c.name, v[0], c.magic)
		}
		e, p, ok := unstamp(v)
		if !ok || e != c.epoch || !bytes.Equal(p, payload) {
			t.Errorf("%s: unstamp = %d, %v, %v; want %d, %v, true", c.name, e, p, ok, c.epoch, payload)
		}
		u, d := stampedIDs(v)
		if c.magic == stampMagic {
			u, d = c.userID, c.dealID // names none: nothing to compare
			if gu, gd := stampedIDs(v); gu != 0 || gd != 0 {
				t.Errorf("%s: stampedIDs = %d, %d; want 0, 0", c.name, gu, gd)
			}
		}
		if u != c.userID || d != c.dealID {
			t.Errorf("%s: stampedIDs = %d, %d; want %d, %d", c.name, u, d, c.userID, c.dealID)
		}
	}
	// A payload without a stamp (an older release's) stays unstamped, and
	// a truncated ids stamp is not mistaken for one.
	if _, p, ok := unstamp(payload); ok || !bytes.Equal(p, payload) {
		t.Errorf("unstamped payload: got %v, %v", p, ok)
	}
	if _, _, ok := unstamp([]byte{stampIDsMagic, 7, 30, '1'}); ok {
		t.Error("a truncated ids stamp was read as a stamp")
	}
}

// The per-process memory of which user and deal a session named is bounded:
// a shard that fills up starts again, and forgetting works.
func TestIDsCacheIsBounded(t *testing.T) {
	var c idsCache
	tok := func(i int) string { return fmt.Sprintf("A-%08d", i) } // one shard: same first byte
	for i := range idsShardCap + 10 {
		c.put(tok(i), int64(i)+1, 7)
	}
	sh := c.shard(tok(0))
	if n := len(sh.m); n > idsShardCap {
		t.Fatalf("shard holds %d tokens, want at most %d", n, idsShardCap)
	}
	last := tok(idsShardCap + 9)
	if u, d, ok := c.get(last); !ok || u != idsShardCap+10 || d != 7 {
		t.Fatalf("latest token: got %d, %d, %v", u, d, ok)
	}
	c.put(last, 0, 0)
	if _, _, ok := c.get(last); ok {
		t.Fatal("a forgotten token is still remembered")
	}
	if _, _, ok := c.get(""); ok {
		t.Fatal("the empty token is remembered")
	}
}

// Session tokens as scs makes them (32 random bytes, base64url) use every
// shard, so the cache holds the 64 × idsShardCap sessions it is sized for.
func TestIDsCacheSpreadsTokensOverEveryShard(t *testing.T) {
	var c idsCache
	used := map[*idsShard]int{}
	const n = 64 * 200
	for range n {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		used[c.shard(base64.RawURLEncoding.EncodeToString(b))]++
	}
	if len(used) != len(c.shards) {
		t.Fatalf("%d random tokens fell into %d of %d shards", n, len(used), len(c.shards))
	}
	for _, k := range used {
		if k > 2*n/len(c.shards) {
			t.Fatalf("a shard took %d of %d tokens, over twice its share", k, n)
		}
	}
}
