package api

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
)

// The current deal's answer is appended by hand on the hot path; a client
// must get exactly the bytes json.Marshal writes, whatever the deal holds.
func TestCurrentDealJSONIsWhatMarshalWrites(t *testing.T) {
	at := time.Date(2026, 12, 4, 8, 49, 38, 123456789, time.UTC)
	cases := []deal.Deal{
		{ID: 1, Name: "Atlas", Role: deal.RoleOwner, CreatedAt: at},
		{ID: 9_007_199_254_740_993, Name: "", Role: "member", CreatedAt: at.Truncate(time.Second)},
		{ID: -1, Name: "Ünïcödé ✓", Role: "admin", CreatedAt: at.In(time.FixedZone("CET", 3600))},
		{ID: 2, Name: `quote " and \ backslash`, Role: "owner", CreatedAt: at},
		{ID: 3, Name: "<script>&amp;</script>", Role: "owner", CreatedAt: at},
		{ID: 4, Name: "tab\tnew\nline\x7f\x01", Role: "owner", CreatedAt: at},
		{ID: 5, Name: "line\u2028separator", Role: "owner", CreatedAt: at},
		{ID: 6, Name: "bad \xff utf-8", Role: "owner", CreatedAt: at},
		{ID: 7, Name: "zero time", Role: "owner"},
		{ID: 8, Name: "far future", Role: "owner", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, d := range cases {
		checkCurrentDealJSON(t, d)
	}
}

func FuzzCurrentDealJSON(f *testing.F) {
	f.Add(int64(1), "Atlas", "owner", int64(1_764_838_178_123_456_789))
	f.Add(int64(-5), "<&>\"\\\u2028", "x y", int64(0))
	f.Fuzz(func(t *testing.T, id int64, name, role string, nanos int64) {
		checkCurrentDealJSON(t, deal.Deal{ID: id, Name: name, Role: role, CreatedAt: time.Unix(0, nanos).UTC()})
	})
}

func checkCurrentDealJSON(t *testing.T, d deal.Deal) {
	t.Helper()
	v := currentDealResponse{CurrentDeal: d}
	want, err := json.Marshal(v)
	rec := httptest.NewRecorder()
	web.WriteJSON(rec, 200, v)
	if err != nil {
		if rec.Code != 500 {
			t.Fatalf("%+v: json.Marshal fails (%v), the response: got %d, want 500", d, err, rec.Code)
		}
		return
	}
	if got := rec.Body.String(); got != string(want)+"\n" {
		t.Fatalf("%+v:\n got %s\nwant %s", d, got, want)
	}
}
