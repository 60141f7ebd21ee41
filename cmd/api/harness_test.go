package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient/redistest"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// testEnv returns the environment an api under test runs with: a fresh
// database, the test Redis, fast password hashing and plain-http cookies.
func testEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"DATABASE_URL":      pgtest.NewDatabase(t),
		"REDIS_URL":         redistest.APIURL(15),
		"REDIS_KEY_PREFIX":  "dealctx-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":",
		"COOKIE_SECURE":     "false",
		"ARGON2_MEMORY_KIB": "64",
		"ARGON2_TIME":       "1",
		"LOG_LEVEL":         "warn",
		"SHUTDOWN_TIMEOUT":  "5",
		"SHUTDOWN_DRAIN":    "0",
	}
}

// api is one running api process (run() in a goroutine) under test.
type api struct {
	t      *testing.T
	URL    string
	env    map[string]string
	stderr *testserver.LogBuffer
	cancel context.CancelFunc
	done   chan error
}

// startAPI runs `api serve` with env on a free port and waits for /healthz.
// The server is shut down when the test ends.
func startAPI(t *testing.T, env map[string]string) *api {
	t.Helper()
	port := testserver.FreePort(t)
	env["PORT"] = strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	a := &api{t: t, URL: "http://127.0.0.1:" + strconv.Itoa(port), env: env, stderr: &testserver.LogBuffer{}, cancel: cancel, done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	go func() { a.done <- run(ctx, []string{"serve"}, getenv, strings.NewReader(""), io.Discard, a.stderr) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-a.done:
			t.Fatalf("api exited at start: %v\n%s", err, a.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("api did not answer /healthz within 15s\n%s", a.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(a.Stop)
	return a
}

// Stop shuts the api down and waits for run to return.
func (a *api) Stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		if err != nil {
			a.t.Errorf("api run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		a.t.Errorf("api did not stop within 20s")
	}
}

// startAPIProcess runs the built api binary (`api serve`, as the Procfile
// does) with env on a free port and waits for /healthz; for what only a
// process of its own shows (its memory, its runtime settings). It gets
// SIGTERM when the test ends.
func startAPIProcess(t *testing.T, env map[string]string) (*testserver.Process, *api) {
	t.Helper()
	env["PORT"] = strconv.Itoa(testserver.FreePort(t))
	env["PATH"] = os.Getenv("PATH")
	p := testserver.StartProcess(t, apiBinary.Path(t), env, "serve")
	a := &api{t: t, URL: "http://127.0.0.1:" + env["PORT"], env: env}
	eventually(t, 15*time.Second, "the api to answer /healthz", func() bool {
		resp, err := http.Get(a.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return p, a
}

// command runs an api subcommand against env's database and returns stdout.
func command(t *testing.T, env map[string]string, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb); err != nil {
		t.Fatalf("api %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// createUser creates a user through `api user create` and returns its id.
func createUser(t *testing.T, env map[string]string, email string, admin bool) int64 {
	t.Helper()
	args := []string{"user", "create", "--email", email, "--name", strings.Split(email, "@")[0], "--password", "password-" + email}
	if admin {
		args = append(args, "--admin")
	}
	var res struct{ ID int64 }
	if err := json.Unmarshal([]byte(command(t, env, "", args...)), &res); err != nil || res.ID == 0 {
		t.Fatalf("user create: bad output: %v", err)
	}
	return res.ID
}

// client is one browser: its own cookie jar.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, a *api) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: a.URL, http: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		Transport: validatingTransport{fail: t.Errorf, next: http.DefaultTransport},
	}}
}

// response is a decoded reply.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it cannot.
func (r response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// ErrorCode returns the contract error code of the body, or "".
func (r response) ErrorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		return "" // not the contract's JSON shape: no code
	}
	return e.Error.Code
}

func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// login signs in email (whose password createUser chose) and fails the test
// unless it succeeds.
func (c *client) login(email string, remember bool) response {
	c.t.Helper()
	r := c.do("POST", "/api/auth/login", map[string]any{"email": email, "password": "password-" + email, "remember": remember})
	if r.Status != http.StatusOK {
		c.t.Fatalf("login %s: got %d %s, want 200", email, r.Status, r.Body)
	}
	return r
}

// createDeal creates a deal as the signed-in user and returns its id.
func (c *client) createDeal(name string) int64 {
	c.t.Helper()
	r := c.do("POST", "/api/deals", map[string]string{"name": name})
	if r.Status != http.StatusCreated {
		c.t.Fatalf("create deal: got %d %s, want 201", r.Status, r.Body)
	}
	var out struct{ Deal struct{ ID int64 } }
	r.JSON(c.t, &out)
	return out.Deal.ID
}

// sqlExec runs a statement on env's database.
func sqlExec(t *testing.T, env map[string]string, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// sqlInt runs a query returning one nullable integer; NULL is -1.
func sqlInt(t *testing.T, env map[string]string, sql string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	var n *int64
	if err := db.Pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	if n == nil {
		return -1
	}
	return *n
}

// cookie returns the value of the named cookie the client holds, or "".
func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// setCookies replaces the client's cookies with the given name/value pairs,
// as a browser that lost or kept some of them would.
func (c *client) setCookies(kv map[string]string) {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(c.base)
	var cs []*http.Cookie
	for k, v := range kv {
		cs = append(cs, &http.Cookie{Name: k, Value: v, Path: "/"})
	}
	jar.SetCookies(u, cs)
	c.http.Jar = jar
}

// openAPIRouter is openapi.json's routes, loaded once for every client.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	b, err := os.ReadFile("../../internal/web/api/openapi.json")
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is not valid OpenAPI: %w", err)
	}
	return gorillamux.NewRouter(doc)
})

// validatingTransport checks every response to a route openapi.json
// describes (method and path) against the document: a status it does not
// list, a missing header it requires, or a body that does not match its
// schema fails the test. What is not described (pages, a method no
// operation has) passes through unchecked; requests are never checked, so
// tests may send bad ones.
type validatingTransport struct {
	fail func(format string, args ...any) // t.Errorf
	next http.RoundTripper
}

func (v validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/api/") {
		return resp, err
	}
	router, rerr := openAPIRouter()
	if rerr != nil {
		v.fail("openapi.json: %v", rerr)
		return resp, err
	}
	route, params, ferr := router.FindRoute(req)
	if ferr != nil {
		return resp, err // not described
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if verr := openapi3filter.ValidateResponse(req.Context(), in); verr != nil {
		v.fail("%s %s: the response does not match openapi.json: got %d %.300s: %v", req.Method, req.URL.Path, resp.StatusCode, body, verr)
	}
	return resp, err
}
