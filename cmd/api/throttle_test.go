package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/testserver"
)

// apiBinary is ./cmd/api, built on the first test that runs it as a process
// of its own (to read its memory).
var apiBinary = &testserver.Binary{Root: "../..", Pkg: "./cmd/api"}

// burst sends n requests at once (released together) and returns each
// status and Retry-After header, in any order.
func burst(t *testing.T, n int, send func(i int) (*http.Response, error)) (statuses []int, retryAfter []string) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := send(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses = append(statuses, -1)
				return
			}
			resp.Body.Close()
			statuses = append(statuses, resp.StatusCode)
			retryAfter = append(retryAfter, resp.Header.Get("Retry-After"))
		}()
	}
	close(start)
	wg.Wait()
	return statuses, retryAfter
}

func count(statuses []int, status int) int {
	n := 0
	for _, s := range statuses {
		if s == status {
			n++
		}
	}
	return n
}

func postJSON(url string, jar http.CookieJar, body any) (*http.Response, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	return c.Do(req)
}

// Parallel wrong passwords cannot outrun a throttle: with a limit of L, at
// most L passwords are checked and the rest are 429; the right password
// over the limit is 429 too. The same holds for the per-IP limit and for
// password changes.
func TestParallelSignInsAreThrottledBeforeThePasswordIsChecked(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["LOGIN_ACCOUNT_LIMIT"] = "5"
	env["LOGIN_IP_LIMIT"] = "8"
	env["TRUSTED_PROXY_HOPS"] = "1"
	a := startAPI(t, env)
	createUser(t, env, "target@example.com", false)
	login := a.URL + "/api/auth/login"

	t.Run("one account", func(t *testing.T) {
		statuses, _ := burst(t, 30, func(i int) (*http.Response, error) {
			req, _ := http.NewRequest("POST", login, strings.NewReader(`{"email":"target@example.com","password":"wrong-password-`+strconv.Itoa(i)+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(i+1)) // spread over IPs
			return http.DefaultClient.Do(req)
		})
		if checked := count(statuses, http.StatusUnauthorized); checked > 5 || checked+count(statuses, http.StatusTooManyRequests) != 30 {
			t.Errorf("30 parallel wrong passwords, limit 5: got %d checked (401) and %d refused (429) of %v, want at most 5 checked and the rest 429",
				checked, count(statuses, http.StatusTooManyRequests), statuses)
		}
		req, _ := http.NewRequest("POST", login, strings.NewReader(`{"email":"target@example.com","password":"password-target@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "198.51.100.200")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("the right password over the limit: got %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("one IP", func(t *testing.T) {
		statuses, _ := burst(t, 30, func(i int) (*http.Response, error) {
			req, _ := http.NewRequest("POST", login, strings.NewReader(`{"email":"nobody`+strconv.Itoa(i)+`@example.com","password":"wrong-password"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			return http.DefaultClient.Do(req)
		})
		if checked := count(statuses, http.StatusUnauthorized); checked > 8 || checked+count(statuses, http.StatusTooManyRequests) != 30 {
			t.Errorf("30 parallel sign-ins from one IP, limit 8: got %d checked of %v, want at most 8 and the rest 429", checked, statuses)
		}
	})
	t.Run("password change", func(t *testing.T) {
		createUser(t, env, "changer@example.com", false)
		c := newClient(t, a)
		c.login("changer@example.com", false)
		statuses, _ := burst(t, 30, func(i int) (*http.Response, error) {
			req, _ := http.NewRequest("POST", a.URL+"/api/me/password", strings.NewReader(`{"current_password":"wrong-password-`+strconv.Itoa(i)+`","new_password":"a-new-password-1234"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "192.0.2."+strconv.Itoa(i+1))
			return c.http.Do(req)
		})
		if checked := count(statuses, http.StatusUnauthorized); checked > 5 {
			t.Errorf("30 parallel wrong current passwords, limit 5: got %d checked of %v, want at most 5", checked, statuses)
		}
	})
}

// Parallel additions of unknown emails cannot outrun MEMBER_LOOKUP_LIMIT:
// at most the limit are answered 404 (the email has no account), the rest
// 429, so emails cannot be tested in bulk.
func TestParallelMemberLookupsAreThrottled(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["MEMBER_LOOKUP_LIMIT"] = "10"
	a := startAPI(t, env)
	createUser(t, env, "owner@example.com", false)
	c := newClient(t, a)
	c.login("owner@example.com", false)
	id := c.createDeal("Lookups")
	statuses, _ := burst(t, 40, func(i int) (*http.Response, error) {
		return postJSON(a.URL+"/api/deals/"+itoa(id)+"/members", c.http.Jar, map[string]string{"email": "unknown" + strconv.Itoa(i) + "@example.com", "role": "member"})
	})
	if found := count(statuses, http.StatusNotFound); found > 10 || found+count(statuses, http.StatusTooManyRequests) != 40 {
		t.Errorf("40 parallel unknown emails, limit 10: got %d answered 404 of %v, want at most 10 and the rest 429", found, statuses)
	}
}

// peakRSS is the process's high-water mark of resident memory (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// A burst of sign-ins with made-up emails from one client cannot exhaust
// the api's memory: argon2 allocates its whole memory per hash, and at most
// PASSWORD_HASH_CONCURRENCY hashes run at once; the rest wait briefly and
// get 503 with Retry-After. Meanwhile /healthz and a signed-in user's
// current deal keep answering promptly.
func TestSignInBurstCannotExhaustMemory(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["ARGON2_MEMORY_KIB"] = "19456" // the production cost: 19 MiB a hash
	env["ARGON2_TIME"] = "2"
	env["PASSWORD_HASH_CONCURRENCY"] = "2"
	env["LOGIN_IP_LIMIT"] = "100000"
	env["LOGIN_ACCOUNT_LIMIT"] = "100000"
	createUser(t, env, "steady@example.com", false)
	proc, a := startAPIProcess(t, env)
	base := a.URL
	steady := newClient(t, a)
	steady.login("steady@example.com", false)
	id := steady.createDeal("Steady")
	if r := steady.do("POST", "/api/deals/"+itoa(id)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d", r.Status)
	}
	before := peakRSS(t, proc.Pid)

	// While the burst runs, a prober times /healthz and the current deal.
	stop := make(chan struct{})
	var slowest time.Duration
	var probeErr string
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, path := range []string{"/healthz", "/api/deals/current"} {
				start := time.Now()
				req, _ := http.NewRequest("GET", base+path, nil)
				resp, err := steady.http.Do(req)
				if err != nil {
					probeErr = err.Error()
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					probeErr = path + ": " + resp.Status
				}
				slowest = max(slowest, time.Since(start))
			}
		}
	}()
	statuses, retryAfter := burst(t, 120, func(i int) (*http.Response, error) {
		return postJSON(base+"/api/auth/login", nil, map[string]string{"email": "made-up-" + strconv.Itoa(i) + "@example.com", "password": "some-password-" + strconv.Itoa(i)})
	})
	close(stop)
	<-probed
	grown := peakRSS(t, proc.Pid) - before
	if grown >= 256<<20 {
		t.Errorf("peak memory growth under 120 parallel sign-ins: got %d MiB, want well under 256 MiB", grown>>20)
	}
	checked, busy := count(statuses, http.StatusUnauthorized), count(statuses, http.StatusServiceUnavailable)
	if checked+busy != 120 || checked == 0 {
		t.Errorf("burst answers: got %v, want each 401 (checked) or 503 (no hashing slot), some checked", statuses)
	}
	for i, s := range statuses {
		if s == http.StatusServiceUnavailable && retryAfter[i] == "" {
			t.Errorf("a 503 without Retry-After")
			break
		}
	}
	if probeErr != "" {
		t.Errorf("during the burst: %s, want 200s", probeErr)
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest /healthz or current deal during the burst: got %s, want prompt answers", slowest)
	}
	t.Logf("burst: %d checked, %d refused 503; peak memory grew %d MiB; slowest probe %s", checked, busy, grown>>20, slowest)
}
