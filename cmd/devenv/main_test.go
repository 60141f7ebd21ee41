package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestParseProcfile(t *testing.T) {
	t.Parallel()
	got, err := parseProcfile("# processes\nrelease: ./bin/api migrate up\n\nweb: ./bin/api serve\nworker:  ./bin/worker  \n")
	if err != nil {
		t.Fatal(err)
	}
	want := []process{{"release", "./bin/api migrate up"}, {"web", "./bin/api serve"}, {"worker", "./bin/worker"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("process %d: got %v, want %v", i, got[i], want[i])
		}
	}
	for name, bad := range map[string]string{
		"no colon":   "web ./bin/api",
		"twice":      "web: a\nweb: b",
		"empty":      "# nothing\n",
		"no name":    ": ./bin/api",
		"no command": "web:",
	} {
		if _, err := parseProcfile(bad); err == nil {
			t.Errorf("%s: got no error, want one", name)
		}
	}
}

func TestPrefixWriterLabelsWholeLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	var mu sync.Mutex
	w := &prefixWriter{mu: &mu, w: &out, prefix: "web | "}
	for _, s := range []string{"one\ntw", "o\n", "three\n"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	want := "web | one\nweb | two\nweb | three\n"
	if got := out.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestUsageOnUnknownFlavour(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"devenv", "prod"}, func(string) string { return "" }, nil, &bytes.Buffer{}, &stderr)
	if code, ok := err.(exitCode); !ok || code != 2 {
		t.Errorf("got %v, want exit status 2", err)
	}
	if !strings.Contains(stderr.String(), "usage:") {
		t.Errorf("stderr: got %q, want the usage", stderr.String())
	}
}
