package web

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
)

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "42", "0", "-1", "9223372036854775807", "9223372036854775808",
		"abc", "1e3", "+7", " 1", "0x10", "007", strings.Repeat("9", 400), "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		want, perr := strconv.ParseInt(s, 10, 64)
		ok := perr == nil && want > 0 && strconv.FormatInt(want, 10) == s
		if (err == nil) != ok {
			t.Fatalf("parseID(%q): got err %v, want ok=%v", s, err, ok)
		}
		if err != nil {
			if deal.ErrorCode(err) != deal.EINVALID {
				t.Fatalf("parseID(%q): got code %q, want %q", s, deal.ErrorCode(err), deal.EINVALID)
			}
			return
		}
		if id != want {
			t.Fatalf("parseID(%q): got %d, want %d", s, id, want)
		}
	})
}
