package deploycheck

import (
	"os/exec"
	"strings"
	"testing"
)

// testOnlyPackages are packages that belong in tests, never in a binary
// that ships.
var testOnlyPackages = []string{
	"testing",
	"github.com/dealctx/dealctx/internal/postgres/pgtest",
	"github.com/dealctx/dealctx/internal/testserver",
}

// TestBinariesLinkNoTestCode: the api and the worker depend on no test
// package. A test helper in a non-test file (one importing testing) would
// put test code, and the testing package's flags, into what ships; test
// helpers live in _test.go files or test-only packages such as pgtest.
func TestBinariesLinkNoTestCode(t *testing.T) {
	t.Parallel()
	// go test puts its own toolchain's bin first on PATH.
	cmd := exec.Command("go", "list", "-deps", "./cmd/api", "./cmd/worker")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/api ./cmd/worker: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps: got %d packages, want the binaries' dependencies", len(deps))
	}
	for _, dep := range deps {
		for _, bad := range testOnlyPackages {
			if dep == bad {
				t.Errorf("the binaries depend on %s, want no test package (find the importer with: go list -f '{{.ImportPath}} {{.Imports}}' -deps ./cmd/api ./cmd/worker | grep %s)", dep, dep)
			}
		}
	}
}
