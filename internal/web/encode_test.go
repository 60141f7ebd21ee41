package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
)

func TestDecodeRefusesBodiesThatAreNotJSON(t *testing.T) {
	t.Parallel()
	type request struct {
		Name string `json:"name"`
	}
	cases := []struct {
		contentType string
		wantCode    string
	}{
		{"application/json", ""},
		{"application/json; charset=utf-8", ""},
		{"Application/JSON; Charset=UTF-8", ""},
		{"application/json;charset=utf8", ""},
		{"", ""},
		{"text/plain", deal.EUNSUPPORTED},
		{"text/plain; charset=utf-8", deal.EUNSUPPORTED},
		{"application/x-www-form-urlencoded", deal.EUNSUPPORTED},
		{"multipart/form-data; boundary=x", deal.EUNSUPPORTED},
		{"application/json; charset=iso-8859-1", deal.EUNSUPPORTED},
		{"application/jsonp", deal.EUNSUPPORTED},
		{"application/json-patch+json", deal.EUNSUPPORTED},
		{"json", deal.EUNSUPPORTED},
		{";;;", deal.EUNSUPPORTED},
	}
	for _, tc := range cases {
		t.Run(tc.contentType, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"Atlas"}`))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			v, err := Decode[request](httptest.NewRecorder(), r)
			if got := deal.ErrorCode(err); got != tc.wantCode {
				t.Fatalf("got code %q (%v), want %q", got, err, tc.wantCode)
			}
			if err == nil && v.Name != "Atlas" {
				t.Fatalf("got name %q, want Atlas", v.Name)
			}
		})
	}
}

func TestDecodeRefusesNUL(t *testing.T) {
	t.Parallel()
	type nested struct {
		Tags []string          `json:"tags"`
		Meta map[string]string `json:"meta"`
		Ptr  *string           `json:"ptr"`
	}
	type request struct {
		Name   string `json:"name"`
		Nested nested `json:"nested"`
	}
	cases := []struct {
		name, body, wantField string
	}{
		{"plain", `{"name":"Atlas"}`, ""},
		{"other control characters pass decode", `{"name":"a\tb\u001f\u007f"}`, ""},
		{"escaped backslash then u0000 is text", `{"name":"\\u0000"}`, ""},
		{"nul", `{"name":"At\u0000las"}`, "name"},
		{"\\U is no escape", `{"name":"\U0000"}`, "bad json"},
		{"nul alone", `{"name":"\u0000"}`, "name"},
		{"in a slice", `{"nested":{"tags":["ok","\u0000"]}}`, "nested"},
		{"in a map value", `{"nested":{"meta":{"k":"\u0000"}}}`, "nested"},
		{"in a map key", `{"nested":{"meta":{"\u0000":"v"}}}`, "nested"},
		{"behind a pointer", `{"nested":{"ptr":"\u0000"}}`, "nested"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			_, err := Decode[request](httptest.NewRecorder(), r)
			switch tc.wantField {
			case "":
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
			case "bad json":
				if deal.ErrorCode(err) != deal.EINVALID {
					t.Fatalf("got %v, want invalid_request", err)
				}
			default:
				want := `Field "` + tc.wantField + `" must not contain the NUL character (\u0000).`
				if deal.ErrorCode(err) != deal.EINVALID || deal.ErrorMessage(err) != want {
					t.Fatalf("got %v, want invalid_request %q", err, want)
				}
			}
		})
	}
}
