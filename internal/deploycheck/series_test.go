package deploycheck

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/testserver"
	"go.yaml.in/yaml/v3"
)

const (
	dashboardFile  = "deploy/grafana/dealctx.json"
	alertsFile     = "deploy/prometheus/alerts.yml"
	alertTestsFile = "deploy/prometheus/alerts_test.yml"
)

// promtool finds promtool (Debian's prometheus package; make test installs
// it when missing). Its absence fails the test: unchecked rules are not a
// pass.
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/promtool"); err == nil {
		return "/usr/bin/promtool"
	}
	t.Fatal("promtool not found: install Debian's prometheus package (make test does)")
	return ""
}

func TestAlertRulesPassPromtool(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	if out, err := exec.Command(tool, "check", "rules", filepath.Join(root, alertsFile)).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", alertsFile, err, out)
	}
	// Each alert fires on its trouble and not on a healthy service.
	if out, err := exec.Command(tool, "test", "rules", filepath.Join(root, alertTestsFile)).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", alertTestsFile, err, out)
	}
}

// queries returns every PromQL expression the dashboard and the alert
// rules hold, each with where it is.
func queries(t *testing.T) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(read(t, dashboardFile), &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			exprs[q.Expr] = dashboardFile + ": panel " + strconv.Quote(p.Title)
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(read(t, alertsFile), &rules); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Expr] = alertsFile + ": alert " + r.Alert
		}
	}
	return exprs
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promKeywords = []string{"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan"}
)

// metricNames returns the series names a PromQL expression selects: every
// identifier that is not a function, a keyword, a label or a duration.
func metricNames(expr string) []string {
	expr = promString.ReplaceAllString(expr, `""`)
	expr = promMatchers.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllString(expr, " ")
	expr = regexp.MustCompile(`\$\w+`).ReplaceAllString(expr, " ")
	var names []string
	for _, m := range promIdent.FindAllStringSubmatch(expr, -1) {
		name := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[0]), "("))
		if m[1] != "" || slices.Contains(promKeywords, strings.ToLower(name)) {
			continue
		}
		names = append(names, name)
	}
	return names
}

func TestMetricNamesParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		want []string
	}{
		{`histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{status=~"5.."}[$__rate_interval])))`, []string{"a_bucket"}},
		{`increase(b[1h]) >= 2 and (increase(c[1h]) - d) < 0.5`, []string{"b", "c", "d"}},
		{`max by (instance) (e) == 2`, []string{"e"}},
	}
	for _, c := range cases {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q): got %q, want %q", c.expr, got, c.want)
		}
	}
}

// scrapeNames returns the series names a /metrics endpoint serves.
func scrapeNames(url string) (map[string]bool, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names, sc.Err()
}

// startBinary builds the package pkg (./cmd/api, ./cmd/worker) and runs it
// with env and args until the test ends.
func startBinary(t *testing.T, pkg string, env map[string]string, args ...string) *testserver.LogBuffer {
	t.Helper()
	bin := &testserver.Binary{Root: root, Pkg: pkg}
	t.Cleanup(bin.Remove)
	return testserver.StartProcess(t, bin.Path(t), env, args...).Logs
}

// TestQueriesNameLiveSeries runs the api (tiered sessions) and the worker
// against one database and Redis, and checks that every series the
// dashboard and the alert rules name is served by one of them.
func TestQueriesNameLiveSeries(t *testing.T) {
	t.Parallel()
	redis := testserver.StartRedis(t)
	dbURL := pgtest.NewDatabase(t)
	apiPort, workerPort := testserver.FreePort(t), testserver.FreePort(t)
	common := map[string]string{
		"PATH": os.Getenv("PATH"), "DATABASE_URL": dbURL, "REDIS_URL": redis.URL(), "LOG_LEVEL": "warn",
		"COOKIE_SECURE": "false", "SHUTDOWN_TIMEOUT": "5",
	}
	apiEnv, workerEnv := map[string]string{"PORT": strconv.Itoa(apiPort), "SESSION_STORE": "tiered"}, map[string]string{
		"WORKER_METRICS_PORT": strconv.Itoa(workerPort), "AUDIT_SWEEP_CRON": "@every 1s",
		"SESSION_CLEANUP_CRON": "@every 1s", "PRUNE_STALE_DEALS_CRON": "@every 1s",
	}
	for k, v := range common {
		apiEnv[k], workerEnv[k] = v, v
	}
	apiLog := startBinary(t, "./cmd/api", apiEnv, "serve")
	workerLog := startBinary(t, "./cmd/worker", workerEnv)
	apiURL := "http://127.0.0.1:" + strconv.Itoa(apiPort)
	urls := []string{apiURL + "/metrics", "http://127.0.0.1:" + strconv.Itoa(workerPort) + "/metrics"}

	want := map[string]string{}
	for expr, where := range queries(t) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: no series in %q", where, expr)
		}
		for _, n := range names {
			want[n] = where
		}
	}
	// The request histogram has series once a request is observed; the
	// worker's job series once its jobs ran: poll until both have.
	var missing []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(apiURL + "/healthz"); err == nil {
			resp.Body.Close()
		}
		served := map[string]bool{}
		for _, u := range urls {
			names, err := scrapeNames(u)
			if err != nil {
				continue
			}
			for n := range names {
				served[n] = true
			}
		}
		missing = missing[:0]
		for n := range want {
			if !served[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(missing)
	for _, n := range missing {
		t.Errorf("%s names %s; neither the api nor the worker serves it", want[n], n)
	}
	if t.Failed() {
		t.Logf("api log:\n%s\nworker log:\n%s", apiLog.String(), workerLog.String())
	}
}
