package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Getenv reads an environment variable; os.Getenv in mains, a map in tests.
type Getenv func(string) string

// Program is a program the tests or make dev need: where to look for it and
// which Debian package provides it.
type Program struct {
	Env     string   // variable naming it explicitly, e.g. REDIS_SERVER_BIN
	Names   []string // names looked up on PATH (absolute paths are tried as they are)
	Package string   // Debian package that installs it
}

// The programs: each is found by Find and installed by Installer.Install.
func RedisServerProgram() Program {
	return Program{Env: "REDIS_SERVER_BIN", Names: []string{"redis-server"}, Package: "redis-server"}
}

// RedisCLIProgram is redis-cli, which creates Redis Clusters.
func RedisCLIProgram() Program {
	return Program{Env: "REDIS_CLI_BIN", Names: []string{"redis-cli"}, Package: "redis-tools"}
}

// PgBouncerProgram is Debian's PgBouncer, kept off PATH in /usr/sbin.
func PgBouncerProgram() Program {
	return Program{Env: "PGBOUNCER_BIN", Names: []string{"pgbouncer", "/usr/sbin/pgbouncer"}, Package: "pgbouncer"}
}

// ChromiumProgram is Chromium or Chrome, for the browser tests.
func ChromiumProgram() Program {
	return Program{Env: "CHROMIUM_BIN", Names: []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome-stable", "google-chrome"}, Package: "chromium"}
}

// PromtoolProgram is Prometheus' promtool, which checks the alert rules.
func PromtoolProgram() Program {
	return Program{Env: "PROMTOOL_BIN", Names: []string{"promtool"}, Package: "prometheus"}
}

// HAProxyProgram is Debian's HAProxy, the balancer of the rolling-restart
// test and script.
func HAProxyProgram() Program {
	return Program{Env: "HAPROXY_BIN", Names: []string{"haproxy", "/usr/sbin/haproxy"}, Package: "haproxy"}
}

// Find returns the path of p: the file its variable names when executable,
// else the first of its names found.
func (p Program) Find(getenv Getenv) (string, error) {
	if v := getenv(p.Env); v != "" {
		if executable(v) {
			return v, nil
		}
		return "", fmt.Errorf("%s=%s is not an executable file", p.Env, v)
	}
	for _, n := range p.Names {
		if path, err := exec.LookPath(n); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not found (Debian: apt-get install %s, or set %s)", p.Names[0], p.Package, p.Env)
}

// PostgresBinDir returns the directory holding initdb and postgres:
// POSTGRES_BIN_DIR, else Debian's newest /usr/lib/postgresql/N/bin, else the
// directory of initdb on PATH.
func PostgresBinDir(getenv Getenv) (string, error) {
	if d := getenv("POSTGRES_BIN_DIR"); d != "" {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			return d, nil
		}
		return "", fmt.Errorf("POSTGRES_BIN_DIR=%s holds no initdb and postgres", d)
	}
	// Debian keeps the server programs off PATH, one directory per major version.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if b, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(b); err == nil {
			return filepath.Dir(real), nil
		}
	}
	return "", errors.New("PostgreSQL server programs not found (Debian: apt-get install postgresql, or set POSTGRES_BIN_DIR)")
}

// PostgresPackage is the Debian package that provides PostgresBinDir.
const PostgresPackage = "postgresql"

func versionOf(dir string) int {
	n := 0
	for _, c := range filepath.Base(filepath.Dir(dir)) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Installer installs Debian packages with apt-get, running apt-get update
// once; it can only when running as root on Debian.
type Installer struct {
	Log     io.Writer // progress lines and apt-get's output
	updated bool
}

// CanInstall reports whether Install can work here.
func CanInstall() bool {
	if os.Geteuid() != 0 {
		return false
	}
	if _, err := os.Stat("/etc/debian_version"); err != nil {
		return false
	}
	_, err := exec.LookPath("apt-get")
	return err == nil
}

// Install installs the packages in one apt-get run, saying so first since
// it takes a minute or more.
func (in *Installer) Install(ctx context.Context, packages ...string) error {
	if len(packages) == 0 {
		return nil
	}
	if !CanInstall() {
		return fmt.Errorf("cannot install %s: not root on Debian (install them with your package manager, e.g. sudo apt-get install %[1]s)", strings.Join(packages, " "))
	}
	apt := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = in.Log, in.Log
		return cmd.Run()
	}
	if !in.updated {
		_, _ = fmt.Fprintf(in.Log, "devenv: apt-get update (to install %s)\n", strings.Join(packages, " "))
		if err := apt("update", "-qq"); err != nil {
			return fmt.Errorf("apt-get update: %w", err)
		}
		in.updated = true
	}
	_, _ = fmt.Fprintf(in.Log, "devenv: installing %s with apt-get; this can take a few minutes\n", strings.Join(packages, " "))
	if err := apt(append([]string{"install", "-y", "-qq", "--"}, packages...)...); err != nil {
		return fmt.Errorf("apt-get install %s: %w", strings.Join(packages, " "), err)
	}
	return nil
}
