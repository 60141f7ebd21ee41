package devenv

import (
	"errors"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// Group is a command running in a process group of its own: a Ctrl-C on the
// terminal reaches only the caller, which forwards it with Signal, and Stop
// reaches everything the command started (test binaries and their servers).
type Group struct {
	proc *process
}

// StartGroup starts name with args in dir with the environment env; its
// standard input is empty.
func StartGroup(dir string, env []string, stdout, stderr io.Writer, name string, args ...string) (*Group, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return &Group{proc: p}, nil
}

// Signal sends sig to every process of the group.
func (g *Group) Signal(sig syscall.Signal) { _ = syscall.Kill(-g.proc.cmd.Process.Pid, sig) }

// Stop sends sig to the group, waits up to grace for the command to end,
// then kills whatever is left of the group.
func (g *Group) Stop(sig syscall.Signal, grace time.Duration) { g.proc.stop(sig, grace) }

// Done is closed when the command has ended.
func (g *Group) Done() <-chan struct{} { return g.proc.done }

// ExitCode is the command's exit status once Done is closed: 128+N when a
// signal N ended it.
func (g *Group) ExitCode() int {
	<-g.proc.done
	var ee *exec.ExitError
	if !errors.As(g.proc.err, &ee) {
		if g.proc.err != nil {
			return 1
		}
		return 0
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
