package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestResponsesAreCheckedAgainstOpenAPI: the harness's clients check every
// response to a described route against openapi.json, so a body or status
// the document does not allow fails; pages and undescribed methods pass.
func TestResponsesAreCheckedAgainstOpenAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
		wantFail           bool
	}{
		{"a described answer", "GET", "/api/deals/current", 409, `{"error":{"code":"deal_not_selected","message":"No deal is selected."}}`, false},
		{"an unknown field", "GET", "/api/deals/current", 409, `{"error":{"code":"deal_not_selected","message":"x","extra":1}}`, true},
		{"a code the status does not list", "GET", "/api/deals/current", 409, `{"error":{"code":"not_found","message":"x"}}`, true},
		{"an undescribed status", "GET", "/api/deals/current", 418, `{}`, true},
		{"an id out of range", "GET", "/api/deals/current", 200, `{"current_deal":{"id":0,"name":"A","role":"owner","created_at":"2026-12-04T00:00:00Z"}}`, true},
		{"a page", "GET", "/deals/1", 404, `<!doctype html>`, false},
		{"a method no operation has", "PUT", "/api/deals/current", 405, `{}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			var failures []string
			hc := &http.Client{Transport: validatingTransport{
				fail: func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) },
				next: http.DefaultTransport,
			}}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tc.body {
				t.Errorf("body after checking: got %q, want %q", b, tc.body)
			}
			if got := len(failures) > 0; got != tc.wantFail {
				t.Errorf("reported a mismatch: got %v (%s), want %v", got, strings.Join(failures, "; "), tc.wantFail)
			}
		})
	}
}

// TestOpenAPIStatusesTheCodeSends: what openapi.json now says, the api
// does: DELETE /api/deals/list is 405 (it is no deal id), and a password
// change without a session is 401 unauthenticated (both checked against the
// document by the harness too).
func TestOpenAPIStatusesTheCodeSends(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	r := w.owner.do("DELETE", "/api/deals/list", nil)
	if r.Status != http.StatusMethodNotAllowed || r.ErrorCode() != "method_not_allowed" {
		t.Errorf("DELETE /api/deals/list: got %d %s, want 405 method_not_allowed", r.Status, r.Body)
	}
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || strings.Contains(allow, "DELETE") {
		t.Errorf("DELETE /api/deals/list: got Allow %q, want GET and no DELETE", allow)
	}
	w.owner.wantStatus("the deals after DELETE /api/deals/list", "/api/deals/"+itoa(w.atlas), http.StatusOK)

	anon := newClient(t, w.api)
	r = anon.do("POST", "/api/me/password", map[string]string{"current_password": "x", "new_password": "a-much-longer-password"})
	if r.Status != http.StatusUnauthorized || r.ErrorCode() != "unauthenticated" {
		t.Errorf("POST /api/me/password without a session: got %d %s, want 401 unauthenticated", r.Status, r.Body)
	}
}
