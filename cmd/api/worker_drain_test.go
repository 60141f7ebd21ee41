package main

import (
	"io"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/testserver"
)

// TestWorkerRestartLosesAndDoublesNoAuditEvent restarts the worker process
// (SIGTERM, then a new one) while a user creates deals steadily: the old
// worker exits 0 well within 30 s, and in the end audit_log holds exactly one
// deal.created per deal the api created — none lost, none doubled.
func TestWorkerRestartLosesAndDoublesNoAuditEvent(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["AUDIT_SWEEP_CRON"] = "@every 1s"
	createUser(t, env, "wes@example.com", false)
	a := startAPI(t, env)
	c := newClient(t, a)
	c.login("wes@example.com", false)

	bin := workerBinary.Path(t)
	start := func() (*exec.Cmd, *testserver.LogBuffer, chan error) {
		cmd := exec.Command(bin)
		for k, v := range copyEnv(env, "WORKER_METRICS_PORT", strconv.Itoa(testserver.FreePort(t))) {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		logs := &testserver.LogBuffer{}
		cmd.Stdout, cmd.Stderr = io.Discard, logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start worker: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, logs, done
	}
	stop := func(cmd *exec.Cmd, logs *testserver.LogBuffer, done chan error) {
		began := time.Now()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker after SIGTERM: %v, want exit 0\n%s", err, logs.String())
			}
			if d := time.Since(began); d > 30*time.Second {
				t.Errorf("worker took %v to exit after SIGTERM, want under 30s", d)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err := <-done
			t.Errorf("worker did not exit within 30s of SIGTERM (killed: %v)\n%s", err, logs.String())
		}
	}

	var stopping sync.WaitGroup
	cmd, logs, done := start()
	created := 0
	for round := 0; round < 3; round++ {
		for i := 0; i < 15; i++ {
			c.createDeal("w" + strconv.Itoa(round) + "-" + strconv.Itoa(i))
			created++
			time.Sleep(20 * time.Millisecond)
		}
		if round < 2 {
			// Restart while the stream goes on: the next deals are
			// created while the worker is stopping or starting.
			oldCmd, oldLogs, oldDone := cmd, logs, done
			stopping.Add(1)
			go func() { defer stopping.Done(); stop(oldCmd, oldLogs, oldDone) }()
			time.Sleep(50 * time.Millisecond)
			cmd, logs, done = start()
		}
	}
	waitFor(t, 20*time.Second, "every deal.created in audit_log", func() (bool, string) {
		n := sqlInt(t, env, `SELECT count(*) FROM audit_log WHERE action = 'deal.created'`)
		return n >= int64(created), strconv.FormatInt(n, 10) + " of " + strconv.Itoa(created)
	})
	time.Sleep(1500 * time.Millisecond) // one more sweep: nothing may be moved twice
	if n := sqlInt(t, env, `SELECT count(*) FROM audit_log WHERE action = 'deal.created'`); n != int64(created) {
		t.Errorf("audit_log holds %d deal.created events for %d deals created", n, created)
	}
	if n := sqlInt(t, env, `SELECT count(DISTINCT deal_id) FROM audit_log WHERE action = 'deal.created'`); n != int64(created) {
		t.Errorf("audit_log names %d distinct deals in deal.created for %d deals created", n, created)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM audit_outbox`); n != 0 {
		t.Errorf("%d audit events still wait in the outbox", n)
	}
	stopping.Wait()
	stop(cmd, logs, done)
}
