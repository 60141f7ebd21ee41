package devenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a private redis-server listening on 127.0.0.1:Port only, keeping
// nothing on disk unless Config asks for it.
type Redis struct {
	Bin    string // redis-server
	Dir    string // working directory: redis.log, redis.conf, nodes.conf
	Port   int
	Config string   // written to Dir/redis.conf and loaded first when not empty (Sentinel needs one)
	Args   []string // extra command-line options, e.g. --sentinel, --replicaof

	proc *process
	log  *os.File
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Addr is the server's host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// LogPath is the file the server's log goes to.
func (r *Redis) LogPath() string { return filepath.Join(r.Dir, "redis.log") }

// Start starts the server and waits up to 10 s until it answers PING.
func (r *Redis) Start(ctx context.Context) error {
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return err
	}
	var args []string
	if r.Config != "" {
		conf := filepath.Join(r.Dir, "redis.conf")
		if err := os.WriteFile(conf, []byte(r.Config), 0o600); err != nil {
			return err
		}
		args = append(args, conf)
	}
	args = append(args, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.Dir, "--daemonize", "no", "--loglevel", "warning")
	args = append(args, r.Args...)
	lf, err := os.OpenFile(r.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	proc, err := startProcess(r.Dir, nil, lf, r.Bin, args...)
	if err != nil {
		_ = lf.Close()
		return err
	}
	r.proc, r.log = proc, lf
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := PingRedis(ctx, r.URL())
		if err == nil && !proc.exited() {
			return nil
		}
		if proc.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			r.Kill()
			if err == nil {
				err = errors.New("it exited")
			}
			return fmt.Errorf("redis-server did not start on port %d (log: %s): %w", r.Port, r.LogPath(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down (SIGTERM), killing it after 10 s.
func (r *Redis) Stop() { r.end(syscall.SIGTERM, 10*time.Second) }

// Kill stops the server at once (SIGKILL), as a crash would.
func (r *Redis) Kill() { r.end(syscall.SIGKILL, 0) }

// Signal sends sig to the running server (SIGSTOP freezes it, SIGCONT thaws
// it), for fault tests.
func (r *Redis) Signal(sig syscall.Signal) {
	if r.proc != nil {
		_ = syscall.Kill(-r.proc.cmd.Process.Pid, sig)
	}
}

func (r *Redis) end(sig syscall.Signal, grace time.Duration) {
	if r.proc == nil {
		return
	}
	r.proc.stop(sig, grace)
	r.proc = nil
	_ = r.log.Close()
}

// PingRedis checks that the Redis at url answers PING within 5 s; a server
// asking for a password still counts as answering.
func PingRedis(ctx context.Context, url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return errors.New("not a Redis URL")
	}
	opt.DialTimeout, opt.ReadTimeout, opt.MaxRetries = 2*time.Second, 2*time.Second, -1
	c := redis.NewClient(opt)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = c.Ping(ctx).Err()
	if err != nil && strings.HasPrefix(err.Error(), "NOAUTH") {
		return nil
	}
	return err
}
