package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/session"
	"github.com/go-chi/chi/v5"
)

// notDescribed are the routes outside the JSON API that the OpenAPI
// document leaves out on purpose: HTML pages and static files. Any other
// route must be described. Add a page route here when you add it to
// routes.go.
var notDescribed = map[string]bool{
	"/":                               true,
	"/login":                          true,
	"/logout":                         true,
	"/deal":                           true,
	"/deals":                          true,
	"/deals/{id}":                     true,
	"/account/sessions":               true,
	"/account/sessions/{id}/revoke":   true,
	"/account/sessions/revoke-others": true,
	"/account/password":               true,
	"/admin":                          true,
	"/static/*":                       true,
	"/assets/*":                       true,
	"/favicon.ico":                    true,
}

// openAPIDoc is the part of the document the tests read.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Parameters map[string]struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
	} `json:"components"`
}

var operationMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

// routerForTest builds the real router. No request is served, so the
// session store and database are never touched.
func routerForTest(t *testing.T) chi.Routes {
	t.Helper()
	h := NewServer(Deps{
		Logger:   slog.New(slog.DiscardHandler),
		Sessions: session.NewManager(nil, "postgres", session.Options{Lifetime: time.Hour}),
	})
	routes, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("NewServer returned %T, want a chi router to walk", h)
	}
	return routes
}

func TestOpenAPIDocumentIsOpenAPI31(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(doc.OpenAPI) {
		t.Errorf("openapi: got %q, want 3.1.x", doc.OpenAPI)
	}
	if len(doc.Paths) == 0 {
		t.Fatal("paths: got none")
	}

	// Every $ref points at something that exists.
	var root any
	if err := json.Unmarshal(openAPIDocument, &root); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && resolve(root, ref) == nil {
				t.Errorf("$ref %q: points at nothing", ref)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(root)

	// Every path template's parameters are declared as path parameters,
	// and every operation has responses.
	var full struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Ref  string `json:"$ref"`
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &full); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range full.Paths {
		for method, op := range item {
			if !operationMethods[method] {
				continue
			}
			if len(op.Responses) == 0 {
				t.Errorf("%s %s: got no responses, want at least one", method, path)
			}
			declared := map[string]bool{}
			for _, p := range op.Parameters {
				if p.Ref != "" {
					c := doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
					p.Name, p.In = c.Name, c.In
				}
				if p.In == "path" {
					declared[p.Name] = true
				}
			}
			for _, m := range tmpl.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s: path parameter %q is not declared", method, path, m[1])
				}
			}
		}
	}
}

// resolve follows a local JSON pointer such as #/components/schemas/Deal.
func resolve(root any, ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	cur := root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

func TestOpenAPIDescribesEveryRouteAndNoOther(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	described := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			if operationMethods[method] {
				described[strings.ToUpper(method)+" "+path] = true
			}
		}
	}

	routed := map[string]bool{}
	err := chi.Walk(routerForTest(t), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	if len(routed) == 0 {
		t.Fatal("walk: got no routes")
	}

	var undescribed, phantom []string
	for r := range routed {
		path := r[strings.IndexByte(r, ' ')+1:]
		if !described[r] && (!notDescribed[path] || strings.HasPrefix(path, "/api/")) {
			undescribed = append(undescribed, r)
		}
	}
	for r := range described {
		if !routed[r] {
			phantom = append(phantom, r)
		}
	}
	sort.Strings(undescribed)
	sort.Strings(phantom)
	for _, r := range undescribed {
		t.Errorf("route %s is in the router but not in openapi.json (describe it, or list it in notDescribed if it is a page)", r)
	}
	for _, r := range phantom {
		t.Errorf("openapi.json describes %s, which the router does not have", r)
	}
}
