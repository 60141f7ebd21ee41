package testserver

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Binary is a Go main package built at most once, on first use, so that
// every test of a test binary that runs it shares one build.
type Binary struct {
	// Root is the module's directory, relative to the test's package.
	Root string
	// Pkg is the package to build, relative to Root (./cmd/worker).
	Pkg string

	once sync.Once
	dir  string
	path string
	err  error
}

// Path builds the package the first time it is called and returns the
// executable; a failed build fails every test that asks.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "dealctx-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, filepath.Base(b.Pkg))
		build := exec.Command("go", "build", "-o", b.path, b.Pkg)
		build.Dir = b.Root
		if out, err := build.CombinedOutput(); err != nil {
			b.err = &buildError{pkg: b.Pkg, err: err, out: string(out)}
		}
	})
	if b.err != nil {
		t.Fatalf("testserver: %v", b.err)
	}
	return b.path
}

// Remove deletes the built executable; call it once no test needs it (from
// TestMain after m.Run, or a test's cleanup).
func (b *Binary) Remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

type buildError struct {
	pkg, out string
	err      error
}

func (e *buildError) Error() string { return "go build " + e.pkg + ": " + e.err.Error() + "\n" + e.out }

// stopTimeout bounds a process's exit after SIGTERM at the test's end.
const stopTimeout = 20 * time.Second

// Process is a program a test runs: its stderr is kept, an exit before the
// test ends fails the test, and it gets SIGTERM (then SIGKILL after 20 s)
// when the test ends.
type Process struct {
	// Logs is everything the program wrote to stderr.
	Logs *LogBuffer
	// Pid is the program's process id.
	Pid int

	done     chan struct{}
	stopping atomic.Bool
}

// Stop sends sig (SIGTERM: a deploy) and waits up to stopTimeout for the
// program to exit; an exit it asked for is no failure.
func (p *Process) Stop(t testing.TB, sig syscall.Signal) {
	t.Helper()
	p.stopping.Store(true)
	_ = syscall.Kill(p.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Fatalf("testserver: pid %d did not stop within %v of %v", p.Pid, stopTimeout, sig)
	}
}

// StartProcess runs bin with args and exactly the environment env until the
// test ends.
func StartProcess(t testing.TB, bin string, env map[string]string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &Process{Logs: &LogBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, p.Logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("testserver: start %s: %v", bin, err)
	}
	p.Pid = cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		if !p.stopping.Load() {
			t.Errorf("%s exited before the test ended: %v\n%s", filepath.Base(bin), err, p.Logs.String())
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stopping.Store(true)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not stop within %v of SIGTERM\n%s", filepath.Base(bin), stopTimeout, p.Logs.String())
		}
	})
	return p
}

// Done is closed once the program has exited.
func (p *Process) Done() <-chan struct{} { return p.done }
