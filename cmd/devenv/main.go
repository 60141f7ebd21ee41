// Command devenv provides the servers and programs that make dev and make
// test need, and runs what needs them: it finds or starts PostgreSQL and
// Redis (internal/devenv), installs missing programs with apt-get when it
// can, runs the command in a process group of its own so that Ctrl-C stops
// all of it, and stops what it started when the command ends.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dealctx/dealctx/internal/devenv"
)

const usage = `usage:
  devenv test [--] [command [args...]]
      PostgreSQL and Redis for the tests (TEST_DATABASE_URL, TEST_REDIS_URL) and
      the programs they start (POSTGRES_BIN_DIR, REDIS_SERVER_BIN, REDIS_CLI_BIN,
      PGBOUNCER_BIN, CHROMIUM_BIN, PROMTOOL_BIN, HAPROXY_BIN, AXE_CORE_JS), then runs the
      command with them in its environment; private servers live in a
      temporary directory.
  devenv dev [--] [command [args...]]
      PostgreSQL and Redis for make dev (DATABASE_URL, REDIS_URL, the database
      dealctx; private servers keep their data under .dev/<PORT>/) and its ports
      (PORT, WORKER_METRICS_PORT); without a command, the whole stack: make build,
      the Procfile's release command, demo data, then its other processes.

Either stops what it started when the command ends, also on Ctrl-C.
`

// stopGrace is how long a command gets to finish after a signal: the app
// shuts down within the platforms' 30 s.
const stopGrace = 35 * time.Second

func main() {
	err := run(context.Background(), os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	var code exitCode
	switch {
	case errors.As(err, &code):
		os.Exit(int(code))
	case err != nil:
		_, _ = fmt.Fprintln(os.Stderr, "devenv:", err)
		os.Exit(1)
	}
}

// exitCode makes devenv exit with the status of the command it ran.
type exitCode int

func (c exitCode) Error() string { return "exit status " + strconv.Itoa(int(c)) }

func run(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 || (args[1] != string(devenv.Test) && args[1] != string(devenv.Dev)) {
		_, _ = fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	flavour := devenv.Flavour(args[1])
	command := args[2:]
	if len(command) > 0 && command[0] == "--" {
		command = command[1:]
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A signal while servers start or programs install cancels that work.
	go func() {
		select {
		case s := <-sigs:
			cancel()
			select { // for whoever waits on a command next
			case sigs <- s:
			default:
			}
		case <-ctx.Done():
		}
	}()
	r := &runner{root: root, env: os.Environ(), sigs: sigs, ctx: ctx, stdout: stdout, stderr: stderr}
	in := &devenv.Installer{Log: stderr}
	opts := devenv.Options{Flavour: flavour, Getenv: getenv, Log: stderr, Root: root, Installer: in}

	if flavour == devenv.Test {
		tools, err := devenv.Tools(ctx, getenv, in, stderr)
		if err != nil {
			return err
		}
		r.set(tools...)
		r.set("CGO_ENABLED=1") // the race detector needs cgo
	} else {
		if opts.Ports, err = devPorts(getenv, len(command) == 0); err != nil {
			return err
		}
	}
	svc, err := devenv.Obtain(ctx, opts)
	if err != nil {
		return interrupted(ctx, err)
	}
	defer svc.Close()
	dbVar, redisVar := flavour.URLVariables()
	r.set(dbVar+"="+svc.DatabaseURL, redisVar+"="+svc.RedisURL)
	if flavour == devenv.Dev {
		r.set("PORT="+strconv.Itoa(opts.Ports.API), "WORKER_METRICS_PORT="+strconv.Itoa(opts.Ports.WorkerMetrics),
			"COOKIE_SECURE=false")
		if getenv("LOG_FORMAT") == "" {
			r.set("LOG_FORMAT=text")
		}
	}
	if len(command) == 0 && flavour == devenv.Test {
		_, _ = fmt.Fprintf(stdout, "%s=%s\n%s=%s\n", dbVar, devenv.Redact(svc.DatabaseURL), redisVar, devenv.Redact(svc.RedisURL))
		return nil
	}
	if len(command) == 0 {
		return r.stack(getenv, opts.Ports, svc)
	}
	return r.command(stdout, stderr, command...)
}

// interrupted turns an error caused by a Ctrl-C into the status a shell
// gives an interrupted command.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return exitCode(130)
	}
	return err
}

// devPorts are make dev's ports: PORT (default 8080) and the others derived
// from it, or free ones. Only the whole stack (serve) needs PORT free: a
// command such as make migrate may run beside it.
func devPorts(getenv func(string) string, serve bool) (devenv.Ports, error) {
	api, metrics := devenv.DefaultPort, -1
	for name, p := range map[string]*int{"PORT": &api, "WORKER_METRICS_PORT": &metrics} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				return devenv.Ports{}, fmt.Errorf("%s=%q is not a port", name, v)
			}
			*p = n
		}
	}
	free := devenv.PortFree
	if !serve {
		free = func(p int) bool { return p == api || devenv.PortFree(p) }
	}
	return devenv.ChoosePorts(api, metrics, free, devenv.FreePort)
}

// runner runs commands with the services in their environment.
type runner struct {
	ctx            context.Context
	root           string
	env            []string
	sigs           chan os.Signal
	stdout, stderr io.Writer
}

// set puts NAME=value pairs in the commands' environment.
func (r *runner) set(pairs ...string) {
	for _, p := range pairs {
		name, _, _ := strings.Cut(p, "=")
		r.env = append(r.env[:0:0], filterOut(r.env, name)...)
		r.env = append(r.env, p)
	}
}

func filterOut(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

func (r *runner) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(r.stderr, "devenv: "+format+"\n", args...)
}

// command runs args in a group of its own until it ends or a signal
// arrives (forwarded to the whole group), and returns its status.
func (r *runner) command(stdout, stderr io.Writer, args ...string) error {
	if r.ctx.Err() != nil {
		return exitCode(130)
	}
	g, err := devenv.StartGroup(r.root, r.env, stdout, stderr, args[0], args[1:]...)
	if err != nil {
		return err
	}
	select {
	case <-g.Done():
	case s := <-r.sigs:
		g.Stop(s.(syscall.Signal), stopGrace)
		return exitCode(128 + int(s.(syscall.Signal)))
	}
	if code := g.ExitCode(); code != 0 {
		return exitCode(code)
	}
	return nil
}

// stack is make dev without a command: build, release, demo data, then the
// Procfile's processes with their output prefixed by name, until Ctrl-C or
// until one of them exits.
func (r *runner) stack(getenv func(string) string, ports devenv.Ports, svc *devenv.Services) error {
	procfile := getenv("PROCFILE")
	if procfile == "" {
		procfile = "Procfile"
	}
	b, err := os.ReadFile(filepath.Join(r.root, procfile))
	if err != nil {
		return err
	}
	procs, err := parseProcfile(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", procfile, err)
	}
	r.logf("make build (the first build downloads and compiles the dependencies: a few minutes)")
	if err := r.command(r.stderr, r.stderr, "make", "--no-print-directory", "build"); err != nil {
		return err
	}
	var others []process
	for _, p := range procs {
		if p.name != "release" {
			others = append(others, p)
			continue
		}
		r.logf("release: %s", p.command)
		if err := r.command(r.stderr, r.stderr, "bash", "-c", p.command); err != nil {
			return err
		}
	}
	if len(others) == 0 {
		return fmt.Errorf("%s lists no processes but release", procfile)
	}
	r.logf("./bin/api seed-demo")
	var logins bytes.Buffer
	if err := r.command(&logins, r.stderr, "./bin/api", "seed-demo"); err != nil {
		return err
	}

	width := 0
	for _, p := range others {
		width = max(width, len(p.name))
	}
	var mu sync.Mutex
	groups := make([]*devenv.Group, len(others))
	stopAll := func(sig syscall.Signal) {
		var wg sync.WaitGroup
		for _, g := range groups {
			if g != nil {
				wg.Go(func() { g.Stop(sig, stopGrace) })
			}
		}
		wg.Wait()
	}
	ended := make(chan int, len(others))
	for i, p := range others {
		out := &prefixWriter{mu: &mu, w: r.stderr, prefix: fmt.Sprintf("%-*s | ", width, p.name)}
		g, err := devenv.StartGroup(r.root, r.env, out, out, "bash", "-c", p.command)
		if err != nil {
			stopAll(syscall.SIGTERM)
			return err
		}
		groups[i] = g
		go func() { <-g.Done(); ended <- i }()
	}

	mu.Lock()
	_, _ = fmt.Fprintf(r.stderr, "\n  dealctx is running at http://localhost:%d/\n", ports.API)
	if ports.WorkerMetrics > 0 {
		_, _ = fmt.Fprintf(r.stderr, "  worker metrics: http://localhost:%d/metrics\n", ports.WorkerMetrics)
	}
	_, _ = fmt.Fprintf(r.stderr, "  PostgreSQL: %s\n  Redis: %s\n", devenv.Redact(svc.DatabaseURL), devenv.Redact(svc.RedisURL))
	for _, line := range strings.Split(strings.TrimRight(logins.String(), "\n"), "\n") {
		_, _ = fmt.Fprintf(r.stderr, "  %s\n", line)
	}
	_, _ = fmt.Fprintf(r.stderr, "  Ctrl-C stops everything.\n\n")
	mu.Unlock()

	select {
	case s := <-r.sigs:
		r.logf("stopping %s", names(others))
		stopAll(syscall.SIGTERM)
		r.logf("stopped")
		return exitCode(128 + int(s.(syscall.Signal)))
	case i := <-ended:
		r.logf("%s exited (status %d); stopping the rest", others[i].name, groups[i].ExitCode())
		stopAll(syscall.SIGTERM)
		return exitCode(1)
	}
}

// process is one line of a Procfile.
type process struct{ name, command string }

// parseProcfile reads "name: command" lines; blank lines and # comments are
// skipped.
func parseProcfile(s string) ([]process, error) {
	var procs []process
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, command, ok := strings.Cut(line, ":")
		name, command = strings.TrimSpace(name), strings.TrimSpace(command)
		if !ok || name == "" || command == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("line %q: want name: command", line)
		}
		if seen[name] {
			return nil, fmt.Errorf("process %s appears twice", name)
		}
		seen[name] = true
		procs = append(procs, process{name, command})
	}
	if len(procs) == 0 {
		return nil, errors.New("lists no processes")
	}
	return procs, sc.Err()
}

func names(procs []process) string {
	var n []string
	for _, p := range procs {
		n = append(n, p.name)
	}
	return strings.Join(n, " ")
}

// prefixWriter writes each complete line with a prefix, one writer at a
// time.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i]); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
}
