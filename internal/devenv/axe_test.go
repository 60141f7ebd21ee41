package devenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAxeCoreJSFindsTheVariableOrTheCache(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	env := map[string]string{"XDG_CACHE_HOME": cache}
	getenv := func(k string) string { return env[k] }
	if _, err := AxeCoreJS(getenv); err == nil || !strings.Contains(err.Error(), "AXE_CORE_JS") {
		t.Errorf("nothing installed: got %v, want an error naming AXE_CORE_JS", err)
	}
	cached := filepath.Join(cache, "dealctx", "axe-core@"+AxeCoreVersion, "axe.min.js")
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("axe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := AxeCoreJS(getenv); err != nil || got != cached {
		t.Errorf("cached: got %q (%v), want %q", got, err, cached)
	}
	env["AXE_CORE_JS"] = filepath.Join(cache, "missing.js")
	if _, err := AxeCoreJS(getenv); err == nil {
		t.Errorf("AXE_CORE_JS naming no file: got no error, want one")
	}
}

func TestAxeFromTarballRefusesAnotherTarball(t *testing.T) {
	t.Parallel()
	if _, err := axeFromTarball([]byte("not the pinned release")); err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Errorf("got %v, want an integrity error", err)
	}
}
