package httpapi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// volatile are the headers that differ between any two responses.
var volatile = map[string]bool{"Date": true, "X-Request-Id": true, "Content-Length": true, "Set-Cookie": true}

// rawHEAD sends a HEAD over its own connection and returns the response
// and every byte the server sent after the header.
func rawHEAD(t *testing.T, addr, path string, cookie *http.Cookie) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "HEAD " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n"
	if cookie != nil {
		req += "Cookie: " + cookie.Name + "=" + cookie.Value + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
	if err != nil {
		t.Fatalf("HEAD %s: %v", path, err)
	}
	rest, _ := io.ReadAll(br)
	return resp, rest
}

// TestHeadAnswersEveryGetRouteAsGet walks every registered GET route and
// checks that HEAD answers it with the GET's status and headers and sends
// no body, signed in and anonymous, and that a 405 on a GET-only route
// lists GET and HEAD.
func TestHeadAnswersEveryGetRouteAsGet(t *testing.T) {
	fs := newFuzzServer(t)
	ts := httptest.NewServer(fs.handler)
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	id := strconv.FormatInt(fs.dealID, 10)

	var paths []string
	err := chi.Walk(fs.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method != http.MethodGet {
			return nil
		}
		p := strings.ReplaceAll(route, "{id}", id)
		p = strings.ReplaceAll(p, "/*", "/app.css")
		paths = append(paths, p)
		return nil
	})
	if err != nil || len(paths) < 15 {
		t.Fatalf("walk: got %d GET routes (%v), want every one", len(paths), err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, cookie := range []*http.Cookie{fs.cookie, nil} {
		for _, p := range paths {
			// The first GET may change the session (a deal restored or
			// selected): compare HEAD with a second GET, on the same state.
			var get *http.Response
			for range 2 {
				req, _ := http.NewRequest(http.MethodGet, ts.URL+p, nil)
				if cookie != nil {
					req.AddCookie(cookie)
				}
				if get, err = client.Do(req); err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, get.Body)
				get.Body.Close()
			}
			head, rest := rawHEAD(t, addr, p, cookie)
			what := "HEAD " + p + map[bool]string{true: " signed in", false: " anonymous"}[cookie != nil]
			if head.StatusCode != get.StatusCode {
				t.Errorf("%s: got %d, want GET's %d", what, head.StatusCode, get.StatusCode)
			}
			if len(rest) != 0 {
				t.Errorf("%s: got a body of %d bytes, want none", what, len(rest))
			}
			for k := range get.Header {
				if !volatile[k] && !slices.Equal(head.Header[k], get.Header[k]) {
					t.Errorf("%s header %s: got %q, want GET's %q", what, k, head.Header[k], get.Header[k])
				}
			}
			for k := range head.Header {
				if _, ok := get.Header[k]; !ok && !volatile[k] && k != "Connection" {
					t.Errorf("%s header %s: got %q, want none as GET", what, k, head.Header[k])
				}
			}
			if (len(head.Header["Set-Cookie"]) == 0) != (len(get.Header["Set-Cookie"]) == 0) {
				t.Errorf("%s Set-Cookie: got %q, want as GET's %q", what, head.Header["Set-Cookie"], get.Header["Set-Cookie"])
			}
		}
	}

	// A HEAD is not a page load: only the GET counts.
	loads := func() string {
		resp, err := http.Get(ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "dealctx_page_loads_total "); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	before := loads()
	if resp, _ := rawHEAD(t, addr, "/deals", fs.cookie); resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /deals: got %d, want 200", resp.StatusCode)
	}
	if got := loads(); got != before {
		t.Errorf("page loads after a HEAD: got %s, want %s as before", got, before)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/deals", nil)
	req.AddCookie(fs.cookie)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /deals: got %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	if b, _ := strconv.Atoi(before); loads() != strconv.Itoa(b+1) {
		t.Errorf("page loads after a GET: got %s, want %d", loads(), b+1)
	}

	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/api/me", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /api/me: got %d Allow %q, want 405 Allow \"GET, HEAD\"", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
