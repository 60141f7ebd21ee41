package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/devenv"
	"github.com/dealctx/dealctx/internal/testserver"
)

// Two apis behind a real HAProxy (deploy/haproxy/haproxy.cfg: health check
// on /readyz, no retries) under steady load: restarting each in turn, twice,
// as a deploy does (SIGTERM, then the new process on the same port), answers
// every request, with no error and no reset.
func TestRollingRestartBehindHAProxyDropsNothing(t *testing.T) {
	t.Parallel()
	haproxy, err := devenv.HAProxyProgram().Find(os.Getenv)
	if err != nil {
		t.Fatalf("HAProxy is required (make test installs it): %v", err)
	}
	env := testEnv(t)
	env["SHUTDOWN_DRAIN"] = "1"
	env["PATH"] = os.Getenv("PATH")
	createUser(t, env, "rolling@example.com", false)
	bin := apiBinary.Path(t)
	ports := [2]int{testserver.FreePort(t), testserver.FreePort(t)}
	start := func(i int) *testserver.Process {
		e := copyEnv(env, "PORT", strconv.Itoa(ports[i]))
		p := testserver.StartProcess(t, bin, e, "serve")
		eventually(t, 20*time.Second, fmt.Sprintf("api %d ready", i+1), func() bool {
			resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(ports[i]) + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil && resp.StatusCode == http.StatusOK
		})
		return p
	}
	apis := [2]*testserver.Process{start(0), start(1)}
	front := testserver.FreePort(t)
	testserver.StartProcess(t, haproxy, map[string]string{
		"FRONT_PORT": strconv.Itoa(front), "API1_PORT": strconv.Itoa(ports[0]), "API2_PORT": strconv.Itoa(ports[1]),
	}, "-db", "-f", "../../deploy/haproxy/haproxy.cfg")
	base := "http://127.0.0.1:" + strconv.Itoa(front)
	eventually(t, 10*time.Second, "HAProxy serving", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	time.Sleep(time.Second) // both servers seen up

	// One signed-in user with a deal; several keep-alive clients share the
	// session cookie, as tabs of one browser would.
	c := newClient(t, &api{t: t, URL: base})
	c.login("rolling@example.com", false)
	id := c.createDeal("Rolling")
	if r := c.do("POST", "/api/deals/"+itoa(id)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d", r.Status)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base)
	jar.SetCookies(u, c.http.Jar.Cookies(u))

	var sent, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				method, path := "GET", "/api/deals/current"
				if n%5 == w%5 {
					method, path = "POST", "/api/deals/"+itoa(id)+"/select"
				}
				req, _ := http.NewRequest(method, base+path, nil)
				resp, err := hc.Do(req)
				sent.Add(1)
				switch {
				case err != nil:
					failed.Add(1)
					mu.Lock()
					failures = append(failures, method+" "+path+": "+err.Error())
					mu.Unlock()
				default:
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failed.Add(1)
						mu.Lock()
						failures = append(failures, method+" "+path+": "+resp.Status)
						mu.Unlock()
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}

	time.Sleep(500 * time.Millisecond)
	for round := range 2 {
		for i := range apis {
			apis[i].Stop(t, syscall.SIGTERM)
			apis[i] = start(i)
			backInRotation(t, ports[i])
			t.Logf("round %d: api %d restarted; %d requests so far", round+1, i+1, sent.Load())
		}
	}
	close(stop)
	wg.Wait()
	if sent.Load() < 200 {
		t.Errorf("requests during the rolling restarts: got %d, want at least 200", sent.Load())
	}
	if failed.Load() != 0 {
		t.Errorf("rolling restarts: %d of %d requests failed, want none: %v", failed.Load(), sent.Load(), failures)
	}
}

// backInRotation waits until HAProxy has put the api on port back in
// rotation, as a deploy waits for the new process before it stops the next
// old one: HAProxy's checks have passed "rise" (2) times since the api was
// ready, which the api counts in /metrics. Under a loaded machine the checks
// can lag well behind the api's own readiness.
func backInRotation(t *testing.T, port int) {
	t.Helper()
	a := &api{t: t, URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	const series = `dealctx_http_request_duration_seconds_count{method="GET",route="/readyz",status="200"}`
	ready, _ := scrape(t, a)
	eventually(t, 20*time.Second, fmt.Sprintf("HAProxy's checks of the api on port %d", port), func() bool {
		now, _ := scrape(t, a)
		return now[series] >= ready[series]+3 // rise 2, and one more: HAProxy has acted on the second
	})
}
