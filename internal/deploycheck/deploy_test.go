package deploycheck

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/config"
	"go.yaml.in/yaml/v3"
)

// root is the repository, relative to this package.
const root = "../.."

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return b
}

// contractProcesses are the Procfile's lines in the contract.
var contractProcesses = map[string]string{
	"release": "./bin/api migrate up",
	"web":     "./bin/api serve",
	"worker":  "./bin/worker",
}

// knownVariable reports whether name is configuration the processes read
// (config.Variables), or a Go buildpack setting on Heroku.
func knownVariable(name string) bool {
	if strings.HasPrefix(name, "GO") {
		return true
	}
	return slices.ContainsFunc(config.Variables, func(v config.Variable) bool { return v.Name == name })
}

func TestProcfileIsTheContractsThreeLines(t *testing.T) {
	t.Parallel()
	got := map[string]string{}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(string(read(t, "Procfile"))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines++
		name, cmd, ok := strings.Cut(line, ":")
		if !ok {
			t.Errorf("Procfile line %q: want name: command", line)
			continue
		}
		if _, dup := got[name]; dup {
			t.Errorf("Procfile: process %q appears twice", name)
		}
		got[name] = strings.Join(strings.Fields(cmd), " ")
	}
	if lines != len(contractProcesses) {
		t.Errorf("Procfile: got %d process lines, want %d", lines, len(contractProcesses))
	}
	for name, want := range contractProcesses {
		if got[name] != want {
			t.Errorf("Procfile %s: got %q, want %q", name, got[name], want)
		}
	}
}

func TestHerokuAppJSON(t *testing.T) {
	t.Parallel()
	var app struct {
		Addons    []json.RawMessage          `json:"addons"`
		Formation map[string]map[string]any  `json:"formation"`
		Scripts   map[string]string          `json:"scripts"`
		Env       map[string]json.RawMessage `json:"env"`
	}
	if err := json.Unmarshal(read(t, "app.json"), &app); err != nil {
		t.Fatalf("app.json is not valid JSON of the app.json shape: %v", err)
	}
	// An add-on is "plan" or {"plan": "plan"}; the plan may carry a tier.
	addons := map[string]bool{}
	for _, raw := range app.Addons {
		var plan string
		if json.Unmarshal(raw, &plan) != nil {
			var obj struct{ Plan string }
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Errorf("app.json addon %s: want a string or {\"plan\": ...}", raw)
				continue
			}
			plan = obj.Plan
		}
		service, _, _ := strings.Cut(plan, ":")
		addons[service] = true
	}
	for _, want := range []string{"heroku-postgresql", "heroku-redis"} {
		if !addons[want] {
			t.Errorf("app.json addons: got %v, want %s among them", addons, want)
		}
	}
	for _, want := range []string{"web", "worker"} {
		f, ok := app.Formation[want]
		if !ok {
			t.Errorf("app.json formation: no %q process", want)
			continue
		}
		if q, ok := f["quantity"].(float64); ok && q < 1 {
			t.Errorf("app.json formation %s quantity: got %v, want at least 1", want, q)
		}
	}
	for name := range app.Formation {
		if _, ok := contractProcesses[name]; !ok || name == "release" {
			t.Errorf("app.json formation %q: not a long-running process of the Procfile", name)
		}
	}
	// Migrations run in the release phase: the Procfile's release line, or
	// an app.json script.
	release := strings.Contains(string(read(t, "Procfile")), "release:")
	for _, s := range app.Scripts {
		release = release || strings.Contains(s, "migrate up")
	}
	if !release {
		t.Error("neither the Procfile nor app.json scripts run migrations on release")
	}
	for name := range app.Env {
		if !knownVariable(name) {
			t.Errorf("app.json env %s: not a variable the processes read (see config.Variables)", name)
		}
	}
}

// stringOrList is a field that may be "a string" or ["a", "list"].
func stringOrList(t *testing.T, what string, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Errorf("%s: got %s, want a string or a list of strings", what, raw)
	}
	return strings.Join(l, " && ")
}

func TestRailwayConfigs(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(root, "deploy", "railway", "*.json"))
	if len(files) == 0 {
		t.Fatal("deploy/railway/*.json: no Railway config files")
	}
	var web, worker bool
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		var cfg struct {
			Build struct {
				Builder        string `json:"builder"`
				DockerfilePath string `json:"dockerfilePath"`
			} `json:"build"`
			Deploy struct {
				StartCommand     string          `json:"startCommand"`
				PreDeployCommand json.RawMessage `json:"preDeployCommand"`
				HealthcheckPath  string          `json:"healthcheckPath"`
				DrainingSeconds  int             `json:"drainingSeconds"`
				OverlapSeconds   int             `json:"overlapSeconds"`
			} `json:"deploy"`
		}
		if err := json.Unmarshal(read(t, rel), &cfg); err != nil {
			t.Errorf("%s is not valid Railway JSON: %v", rel, err)
			continue
		}
		start := strings.Join(strings.Fields(cfg.Deploy.StartCommand), " ")
		pre := stringOrList(t, rel+" preDeployCommand", cfg.Deploy.PreDeployCommand)
		switch {
		case strings.HasSuffix(start, "api serve"):
			web = true
			if !strings.Contains(pre, "api migrate up") {
				t.Errorf("%s: the web service's preDeployCommand is %q, want it to run api migrate up", rel, pre)
			}
			// A rolling deploy drops nothing only when the new instance is
			// ready before the old one drains, and the old one is given
			// the api's whole drain (SHUTDOWN_DRAIN + in flight, 27 s).
			if cfg.Deploy.HealthcheckPath != "/readyz" {
				t.Errorf("%s healthcheckPath: got %q, want /readyz (it answers 503 while the api drains)", rel, cfg.Deploy.HealthcheckPath)
			}
			if cfg.Deploy.OverlapSeconds < 1 {
				t.Errorf("%s overlapSeconds: got %d, want old and new to overlap", rel, cfg.Deploy.OverlapSeconds)
			}
		case regexp.MustCompile(`(^|/)worker$`).MatchString(start):
			worker = true
		default:
			t.Errorf("%s startCommand: got %q, want the api (… api serve) or the worker (… worker)", rel, cfg.Deploy.StartCommand)
		}
		if cfg.Deploy.DrainingSeconds < 27 {
			t.Errorf("%s drainingSeconds: got %d, want at least 27 so a drain is never cut off", rel, cfg.Deploy.DrainingSeconds)
		}
		if p := cfg.Deploy.HealthcheckPath; p != "" && p != "/healthz" && p != "/readyz" {
			t.Errorf("%s healthcheckPath: got %q, want /healthz or /readyz", rel, p)
		}
		if p := cfg.Build.DockerfilePath; p != "" {
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("%s dockerfilePath %q: %v", rel, p, err)
			}
		}
	}
	if !web || !worker {
		t.Errorf("Railway services: web %v, worker %v; want both", web, worker)
	}
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	const rel = "deploy/compose.yaml"
	var compose struct {
		Services map[string]struct {
			Image       string    `yaml:"image"`
			Build       yaml.Node `yaml:"build"`
			Command     yaml.Node `yaml:"command"`
			Environment yaml.Node `yaml:"environment"`
			DependsOn   yaml.Node `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(read(t, rel), &compose); err != nil {
		t.Fatalf("%s is not valid YAML of the compose shape: %v", rel, err)
	}
	for _, want := range []string{"postgres", "redis", "migrate", "web", "worker"} {
		if _, ok := compose.Services[want]; !ok {
			t.Errorf("%s: no %q service", rel, want)
		}
	}
	if m, ok := compose.Services["migrate"]; ok {
		if cmd := scalars(&m.Command); !strings.Contains(strings.Join(cmd, " "), "migrate up") {
			t.Errorf("%s migrate command: got %q, want it to run migrate up", rel, cmd)
		}
	}
	for _, name := range []string{"migrate", "web", "worker"} {
		s, ok := compose.Services[name]
		if !ok {
			continue
		}
		if s.Image == "" && s.Build.IsZero() {
			t.Errorf("%s %s: neither image nor build", rel, name)
		}
		if ctx := buildContext(&s.Build); ctx != "" && !strings.Contains(ctx, "://") {
			if _, err := os.Stat(filepath.Join(root, "deploy", ctx)); err != nil {
				t.Errorf("%s %s build context %q: %v", rel, name, ctx, err)
			}
		}
		env := envNames(&s.Environment)
		if !slices.Contains(env, "DATABASE_URL") {
			t.Errorf("%s %s environment: got %v, want DATABASE_URL", rel, name, env)
		}
		for _, v := range env {
			if !knownVariable(v) {
				t.Errorf("%s %s environment %s: not a variable the processes read", rel, name, v)
			}
		}
		if name != "migrate" && !slices.Contains(dependsOn(&s.DependsOn), "migrate") {
			t.Errorf("%s %s depends_on: got %v, want migrate", rel, name, dependsOn(&s.DependsOn))
		}
	}
}

// scalars returns a string node as one item, or a sequence's items.
func scalars(n *yaml.Node) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
		return out
	}
	return nil
}

// mapKeys returns a mapping node's keys.
func mapKeys(n *yaml.Node) []string {
	var out []string
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

// envNames reads environment as a map or a list of NAME=value.
func envNames(n *yaml.Node) []string {
	if n.Kind == yaml.MappingNode {
		return mapKeys(n)
	}
	var out []string
	for _, s := range scalars(n) {
		name, _, _ := strings.Cut(s, "=")
		out = append(out, name)
	}
	return out
}

// dependsOn reads depends_on as a list or a map of conditions.
func dependsOn(n *yaml.Node) []string {
	if n.Kind == yaml.MappingNode {
		return mapKeys(n)
	}
	return scalars(n)
}

// buildContext reads build as a path or {context: path}.
func buildContext(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "context" {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// dockerfile finds the Dockerfile: deploy/Dockerfile, else the root's.
func dockerfile(t *testing.T) (string, []byte) {
	t.Helper()
	for _, rel := range []string{"deploy/Dockerfile", "Dockerfile"} {
		if b, err := os.ReadFile(filepath.Join(root, rel)); err == nil {
			return rel, b
		}
	}
	t.Fatal("no Dockerfile in deploy/ or at the root")
	return "", nil
}

// instruction is one Dockerfile instruction with continuations joined.
type instruction struct{ op, args string }

func parseDockerfile(b []byte) []instruction {
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	rel, b := dockerfile(t)
	ins := parseDockerfile(b)
	var stages [][]instruction
	for _, in := range ins {
		if in.op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%s: got %d FROM stages, want a multi-stage build", rel, len(stages))
	}

	goVersion := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(read(t, "go.mod")))
	cgoOff := false
	for _, in := range ins {
		if (in.op == "ENV" || in.op == "RUN" || in.op == "ARG") && regexp.MustCompile(`CGO_ENABLED[= ]0\b`).MatchString(in.args) {
			cgoOff = true
		}
		// A golang builder image must be new enough for go.mod.
		if m := regexp.MustCompile(`golang:(\d+)\.(\d+)`).FindStringSubmatch(in.args); in.op == "FROM" && m != nil && goVersion != nil {
			maj, _ := strconv.Atoi(m[1])
			min, _ := strconv.Atoi(m[2])
			wantMaj, _ := strconv.Atoi(goVersion[1])
			wantMin, _ := strconv.Atoi(goVersion[2])
			if maj < wantMaj || maj == wantMaj && min < wantMin {
				t.Errorf("%s FROM %s: older than go.mod's go %s.%s", rel, in.args, goVersion[1], goVersion[2])
			}
		}
	}
	if !cgoOff {
		t.Errorf("%s: no CGO_ENABLED=0; want static binaries", rel)
	}

	final := stages[len(stages)-1]
	var user string
	copiesBuild := false
	for _, in := range final {
		switch in.op {
		case "USER":
			user = in.args
		case "COPY":
			copiesBuild = copiesBuild || strings.Contains(in.args, "--from=")
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("%s final stage USER: got %q, want a non-root user", rel, user)
	}
	if !copiesBuild {
		t.Errorf("%s final stage: no COPY --from= an earlier stage; want the built binaries copied in", rel)
	}
}
