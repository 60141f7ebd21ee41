package jsonstr

import (
	"encoding/json"
	"testing"
)

// Plain holds exactly for the strings json.Marshal writes unchanged between
// quotes, over every single byte and a few longer strings.
func TestPlainIsWhatMarshalLeavesAlone(t *testing.T) {
	cases := []string{"", "Acme acquisition", "a=b c", "/api/deals/{id}", "é", "\u2028", "\xff"}
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}))
	}
	for _, s := range cases {
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if unchanged := string(out) == `"`+s+`"`; Plain(s) && !unchanged {
			t.Errorf("Plain(%q) is true, but json.Marshal writes %s", s, out)
		}
	}
	for _, s := range []string{"", "Acme acquisition", "a=b c", "/api/deals/{id}", "~"} {
		if !Plain(s) {
			t.Errorf("Plain(%q) is false, want true", s)
		}
	}
}
