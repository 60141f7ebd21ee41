package devenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// AxeCoreVersion is the axe-core release the accessibility test runs: pinned,
// so that a new rule upstream cannot fail a build nobody changed.
const AxeCoreVersion = "4.10.3"

// axeCoreIntegrity is the npm registry's integrity of axe-core-AxeCoreVersion.tgz;
// a tarball that does not match is refused.
const axeCoreIntegrity = "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=="

// AxeCoreJS returns the path of axe-core's axe.min.js: the file AXE_CORE_JS
// names, else the copy InstallAxeCore keeps in the user's cache.
func AxeCoreJS(getenv Getenv) (string, error) {
	if v := getenv("AXE_CORE_JS"); v != "" {
		if fi, err := os.Stat(v); err != nil || fi.IsDir() {
			return "", fmt.Errorf("AXE_CORE_JS=%s is not a file", v)
		}
		return v, nil
	}
	path, err := axeCachePath(getenv)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("axe-core %s not found at %s (make test installs it with npm, or set AXE_CORE_JS to an axe.min.js)", AxeCoreVersion, path)
	}
	return path, nil
}

// axeCachePath is where InstallAxeCore keeps axe.min.js:
// $XDG_CACHE_HOME (else ~/.cache)/dealctx/axe-core@VERSION/axe.min.js.
func axeCachePath(getenv Getenv) (string, error) {
	dir := getenv("XDG_CACHE_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("neither XDG_CACHE_HOME nor HOME is set: set AXE_CORE_JS to an axe.min.js")
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "dealctx", "axe-core@"+AxeCoreVersion, "axe.min.js"), nil
}

// InstallAxeCore fetches axe-core at AxeCoreVersion from the npm registry
// (npm pack), checks the tarball against the pinned integrity and puts its
// axe.min.js where AxeCoreJS finds it without AXE_CORE_JS. It returns that
// path.
func InstallAxeCore(ctx context.Context, getenv Getenv, log io.Writer) (string, error) {
	dest, err := axeCachePath(getenv)
	if err != nil {
		return "", err
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("npm not found (Debian: apt-get install npm, or set AXE_CORE_JS to an axe.min.js)")
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), "pack-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	logf(log, "fetching axe-core %s with npm (for the accessibility test)", AxeCoreVersion)
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--pack-destination", tmp, "axe-core@"+AxeCoreVersion)
	cmd.Dir = tmp
	cmd.Stdout, cmd.Stderr = io.Discard, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm pack axe-core@%s: %w", AxeCoreVersion, err)
	}
	tgz, err := os.ReadFile(filepath.Join(tmp, "axe-core-"+AxeCoreVersion+".tgz"))
	if err != nil {
		return "", fmt.Errorf("npm pack axe-core@%s: %w", AxeCoreVersion, err)
	}
	js, err := axeFromTarball(tgz)
	if err != nil {
		return "", err
	}
	// Write then rename, so that a parallel run never reads half a file.
	part := filepath.Join(tmp, "axe.min.js")
	if err := os.WriteFile(part, js, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(part, dest); err != nil {
		return "", err
	}
	return dest, nil
}

// axeFromTarball checks tgz against axeCoreIntegrity and returns its
// package/axe.min.js.
func axeFromTarball(tgz []byte) ([]byte, error) {
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != axeCoreIntegrity {
		return nil, fmt.Errorf("axe-core %s tarball: got integrity %s, want %s", AxeCoreVersion, got, axeCoreIntegrity)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("axe-core tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("axe-core tarball has no package/axe.min.js: %w", err)
		}
		if h.Name == "package/axe.min.js" {
			return io.ReadAll(io.LimitReader(tr, 16<<20))
		}
	}
}
