package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/config"
)

// TestMain lets a test run this package's main() in a child process: the
// end-to-end way to see exit statuses and exactly what reaches stderr.
func TestMain(m *testing.M) {
	if os.Getenv("DEALCTX_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	workerBinary.Remove()
	os.Exit(code)
}

// runMain runs main() with args and exactly env in a child process, and
// returns its exit code and stderr.
func runMain(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = []string{"DEALCTX_TEST_RUN_MAIN=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("run api: %v", err)
	return 0, ""
}

func TestServeRefusesBadConfigurationWithOneLine(t *testing.T) {
	t.Parallel()
	const dbSecret = "db-pw-Hq72"
	good := "postgres://app:" + dbSecret + "@127.0.0.1:1/app?sslmode=disable"
	cases := []struct {
		variable, value string
	}{
		{"PORT", "http"},
		{"SESSION_STORE", "memcached"},
		{"SESSION_CLEANUP_CRON", "sometimes"},
		{"AUTO_RESTORE_DEAL", "perhaps"},
		{"LOG_LEVEL", "verbose"},
		{"DATABASE_URL", "postgres://app:" + dbSecret + "@db:5432/a%zz"},
		{"REDIS_URL", "http://:redis-pw-Lm01@cache:6379"},
	}
	for _, tc := range cases {
		t.Run(tc.variable, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DATABASE_URL": good, tc.variable: tc.value}
			code, stderr := runMain(t, env, "serve")
			if code == 0 {
				t.Fatalf("exit status: got 0, want non-zero (stderr %q)", stderr)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("stderr: got %d lines %q, want one", len(lines), stderr)
			}
			if !strings.Contains(lines[0], tc.variable) {
				t.Errorf("stderr: got %q, want it to name %s", lines[0], tc.variable)
			}
			for _, secret := range []string{dbSecret, "redis-pw-Lm01"} {
				if strings.Contains(stderr, secret) {
					t.Errorf("stderr: got %q, which contains a password", stderr)
				}
			}
		})
	}
}

func TestIncompleteCommandsSayWhatTheyWant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"migrate alone", []string{"migrate"}, "migrate: want one of up, down, status"},
		{"migrate sideways", []string{"migrate", "sideways"}, "migrate: want one of up, down, status"},
		{"user alone", []string{"user"}, "user: want create, set-password, disable, enable, promote or demote"},
		{"access alone", []string{"access"}, "access: want reset --email E | --deal ID | --all"},
		{"user frob", []string{"user", "frob"}, `user: unknown subcommand "frob"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// No environment at all: the usage must come before DATABASE_URL.
			err := run(context.Background(), tc.args, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("api %s: got %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
			}
		})
	}
}

func TestHelpListsCommandsAndVariables(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	// --help needs no configuration at all.
	if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("api --help: %v", err)
	}
	help := out.String()
	for _, cmd := range []string{"serve", "migrate up|down|status", "user create", "user set-password", "user disable", "user enable", "user promote", "user demote", "access reset", "seed-demo"} {
		if !strings.Contains(help, cmd) {
			t.Errorf("api --help does not list %q:\n%s", cmd, help)
		}
	}
	for _, v := range config.Variables {
		if !strings.Contains(help, v.Name) {
			t.Errorf("api --help does not list %s", v.Name)
		}
	}
	// The contract's variables are all among them.
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "REDIS_TLS_URL", "REDIS_TLS_INSECURE_SKIP_VERIFY", "PORT", "SESSION_STORE",
		"PERMANENT_SESSION_LIFETIME", "REMEMBER_COOKIE_DURATION", "AUTO_RESTORE_DEAL", "COOKIE_SECURE", "SESSION_CLEANUP_CRON",
		"PRUNE_STALE_DEALS_CRON", "AUDIT_SWEEP_CRON", "LOG_LEVEL", "LOG_FORMAT"} {
		if !strings.Contains(help, name) {
			t.Errorf("api --help does not list the contract's %s", name)
		}
	}
}

func TestShutdownFinishesInFlightRequest(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["LOG_LEVEL"] = "info"
	env["SHUTDOWN_TIMEOUT"] = "20" // the default: run must not need all of it
	createUser(t, env, "sol@example.com", false)
	a := startAPI(t, env)
	addr := strings.TrimPrefix(a.URL, "http://")

	// A sign-in whose body has not arrived yet: with Expect: 100-continue,
	// the server's 100 response proves the handler is reading the body.
	body := `{"email":"sol@example.com","password":"password-sol@example.com"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	br := bufio.NewReader(conn)
	cont, err := http.ReadResponse(br, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("waiting for 100 Continue: got %v, %v", cont, err)
	}

	// Shut down, and wait until the listener is closed.
	cancel := a.cancel
	a.cancel = nil
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the api still accepts connections 10s after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-a.done:
		t.Fatalf("run returned (%v) with a request in flight", err)
	default:
	}

	// The in-flight request completes normally.
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("sending the in-flight body: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight sign-in: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"email":"sol@example.com"`) {
		t.Fatalf("in-flight sign-in: got %d %s, want 200 with the user", resp.StatusCode, b)
	}

	// Then run returns promptly, without waiting out SHUTDOWN_TIMEOUT.
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("run: got %v, want nil after a graceful shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s of the last request finishing")
	}
	if !strings.Contains(a.stderr.String(), `"msg":"shutting down"`) {
		t.Errorf("logs: no shutting down line:\n%s", a.stderr.String())
	}
}
