package devenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// process is a child server in a process group of its own, so that a Ctrl-C
// on the terminal reaches the programs using it first and the server is
// stopped after them. It is killed when this process dies.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit status, once done is closed
}

// startProcess starts name with args in dir, as runAs when not nil, with
// its output going to out.
func startProcess(dir string, runAs *user.User, out io.Writer, name string, args ...string) (*process, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if runAs != nil {
		uid, gid, err := ids(runAs)
		if err != nil {
			return nil, err
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process group and waits up to grace for the
// process to end, then kills the group.
func (p *process) stop(sig syscall.Signal, grace time.Duration) {
	if p == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

func ids(u *user.User) (uint32, uint32, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("user %s: %w", u.Username, err)
	}
	return uint32(uid), uint32(gid), nil
}

// chownTo gives path to u (nil: leaves it).
func chownTo(path string, u *user.User) error {
	if u == nil {
		return nil
	}
	uid, gid, err := ids(u)
	if err != nil {
		return err
	}
	return os.Chown(path, int(uid), int(gid))
}

// serverUser is the user PostgreSQL and PgBouncer run as: nil (ourselves)
// unless we are root, which both refuse; then the postgres system user,
// created when missing.
func serverUser() (*user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err == nil {
		return u, nil
	}
	out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "postgres").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres system user, and useradd failed: %v: %s", err, out)
	}
	return user.Lookup("postgres")
}

// reachable reports whether u may enter dir and every directory above it.
func reachable(dir string, u *user.User) bool {
	if u == nil {
		return true
	}
	uid, gid, err := ids(u)
	if err != nil {
		return false
	}
	for d := dir; ; {
		fi, err := os.Stat(d)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		ok = ok && (mode&0o001 != 0 || (st.Uid == uid && mode&0o100 != 0) || (st.Gid == gid && mode&0o010 != 0))
		if !ok {
			return false
		}
		parent := filepath.Dir(d)
		if parent == d {
			return true
		}
		d = parent
	}
}
