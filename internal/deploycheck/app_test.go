package deploycheck

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAppImportsNoHTTP: internal/app, the use cases, depends on no HTTP
// package, directly or not. Its callers do the HTTP part (statuses,
// cookies, Retry-After); a use case that reached for a request or a
// response writer would tie every caller to HTTP again. A store or session
// type that brings net/http along is reached through app's own interfaces.
func TestAppImportsNoHTTP(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-deps", "./internal/app")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./internal/app: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	var sawApp bool
	for _, dep := range deps {
		switch {
		case dep == "github.com/dealctx/dealctx/internal/app":
			sawApp = true
		case dep == "net/http", strings.HasPrefix(dep, "net/http/"):
			t.Errorf("internal/app depends on %s, want no net/http (find the importer with: go list -f '{{.ImportPath}} {{.Imports}}' -deps ./internal/app | grep net/http)", dep)
		}
	}
	if !sawApp {
		t.Fatalf("go list -deps ./internal/app: the package itself is missing from %d packages", len(deps))
	}
}
