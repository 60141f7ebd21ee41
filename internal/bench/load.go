package bench

import (
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dealctx/dealctx/internal/session"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Sample is what one or more load runs against one server on one path
// measured: every latency, the answers that matched the expected status,
// the failures, and the time the runs took.
type Sample struct {
	Latencies []time.Duration
	OK        int
	Errors    int
	Elapsed   time.Duration
	// CPU is the server process's user+sys time over the runs (0: not
	// measured).
	CPU time.Duration
	// Machine is what the rest of the machine spent over the runs: the load
	// generator, PostgreSQL, Redis and every CPU's busy time (zero: not
	// measured).
	Machine MachineCPU
	// FirstError describes the first failure, for the report.
	FirstError string
}

// Add merges another run into s.
func (s *Sample) Add(o Sample) {
	s.Latencies = append(s.Latencies, o.Latencies...)
	s.OK += o.OK
	s.Errors += o.Errors
	s.Elapsed += o.Elapsed
	s.CPU += o.CPU
	s.Machine = s.Machine.Add(o.Machine)
	if s.FirstError == "" {
		s.FirstError = o.FirstError
	}
}

// Throughput is expected answers per second over the runs' total time.
func (s Sample) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.OK) / s.Elapsed.Seconds()
}

// Quantile returns the q-quantile (0 < q ≤ 1) of the latencies, nearest rank.
func (s Sample) Quantile(q float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}
	l := slices.Clone(s.Latencies)
	slices.Sort(l)
	i := int(q*float64(len(l))+0.5) - 1
	return l[max(0, min(i, len(l)-1))]
}

// Load is a closed-loop load generator: Workers connections each send the
// next request as soon as the previous one is answered, which measures the
// most a server sustains at that concurrency.
type Load struct {
	Workers  uint64
	Duration time.Duration
}

// Run sends the targeter's requests for l.Duration, or until the targeter
// returns vegeta.ErrNoTargets, and counts answers with status want as OK.
func (l Load) Run(tr vegeta.Targeter, want int) Sample {
	atk := vegeta.NewAttacker(
		vegeta.Workers(l.Workers), vegeta.MaxWorkers(l.Workers),
		vegeta.Connections(int(l.Workers)), vegeta.KeepAlive(true),
		vegeta.Timeout(10*time.Second), vegeta.Redirects(vegeta.NoFollow),
	)
	var s Sample
	var first, last time.Time
	for res := range atk.Attack(tr, vegeta.Rate{Freq: 0}, l.Duration, "") {
		if res.Code == 0 && res.Error == vegeta.ErrNoTargets.Error() {
			continue
		}
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
		s.Latencies = append(s.Latencies, res.Latency)
		if int(res.Code) == want {
			s.OK++
			continue
		}
		s.Errors++
		if s.FirstError == "" {
			s.FirstError = res.Error
			if res.Code != 0 {
				s.FirstError = http.StatusText(int(res.Code)) + ": " + string(res.Body)
			}
		}
	}
	s.Elapsed = last.Sub(first)
	return s
}

// Cycle returns a targeter that sends method to url with each session
// cookie in turn, forever.
func Cycle(method, url string, tokens []string) vegeta.Targeter {
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		tok := tokens[(n.Add(1)-1)%uint64(len(tokens))]
		*t = target(method, url, tok)
		return nil
	}
}

// Once returns a targeter that sends method to url with each session cookie
// once, then reports vegeta.ErrNoTargets.
func Once(method, url string, tokens []string) vegeta.Targeter {
	return OnceCookie(method, url, session.CookieName, tokens)
}

// OnceCookie is Once with each token sent as the value of cookie name
// instead of the session cookie: a request that arrives with nothing else.
func OnceCookie(method, url, name string, tokens []string) vegeta.Targeter {
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		i := n.Add(1) - 1
		if i >= uint64(len(tokens)) {
			return vegeta.ErrNoTargets
		}
		*t = cookieTarget(method, url, name, tokens[i])
		return nil
	}
}

// Select returns a targeter that has each session select a deal in turn:
// POST /api/deals/{deal}/select, with deals[i] the deal for tokens[i].
func Select(base string, tokens []string, deals []int64) vegeta.Targeter {
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		i := (n.Add(1) - 1) % uint64(len(tokens))
		*t = target(http.MethodPost, base+"/api/deals/"+strconv.FormatInt(deals[i], 10)+"/select", tokens[i])
		return nil
	}
}

func target(method, url, token string) vegeta.Target {
	return cookieTarget(method, url, session.CookieName, token)
}

func cookieTarget(method, url, name, value string) vegeta.Target {
	return vegeta.Target{Method: method, URL: url, Header: http.Header{"Cookie": {name + "=" + value}}}
}
