package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/dealctx/dealctx/internal/web"
	"github.com/dealctx/dealctx/internal/web/api"
	"github.com/go-chi/chi/v5"
)

// notDescribed are the routes outside the JSON API that the OpenAPI
// document leaves out on purpose: HTML pages and static files. Any other
// route must be described. Add a page route here when you add it to
// routes.go.
var notDescribed = map[string]bool{
	"/":                                    true,
	"/login":                               true,
	"/logout":                              true,
	"/deal":                                true,
	"/deals":                               true,
	"/deals/{id}":                          true,
	"/account/sessions":                    true,
	"/account/sessions/{id}/revoke":        true,
	"/account/sessions/revoke-others":      true,
	"/account/password":                    true,
	"/account":                             true,
	"/account/preferences":                 true,
	"/deals/{id}/members":                  true,
	"/deals/{id}/members/{user_id}/remove": true,
	"/deals/{id}/delete":                   true,
	"/admin":                               true,
	"/static/*":                            true,
	"/assets/*":                            true,
	"/favicon.ico":                         true,
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
	if err := json.Unmarshal(api.OpenAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

// routerForTest builds the real router. No request is served, so the
// session store and database are never touched.
func routerForTest(t *testing.T) chi.Routes {
	t.Helper()
	h := NewServer(web.Deps{
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
	if err := json.Unmarshal(api.OpenAPIDocument, &root); err != nil {
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
	if err := json.Unmarshal(api.OpenAPIDocument, &full); err != nil {
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
		// HEAD is each GET's twin (the contract), described by its GET.
		if method == http.MethodHead && (described["GET "+route] || !strings.HasPrefix(route, "/api/")) {
			return nil
		}
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
		if web.RefusedRoutes[r] { // routed only to answer 405
			continue
		}
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

// TestOpenAPIDescribesTheErrorsTheServerSends checks the document against
// what the server does: the Error schema lists every code WriteError maps
// (but the internal one), every operation with a JSON body lists 415, and
// every path answers a method it does not list with 405 and an Allow header
// naming exactly the methods the document gives it.
func TestOpenAPIDescribesTheErrorsTheServerSends(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody json.RawMessage            `json:"requestBody"`
			Responses   map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
			Responses map[string]struct {
				Headers map[string]json.RawMessage `json:"headers"`
			} `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	codes := doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	for code := range web.StatusByCode {
		if code != deal.EINTERNAL && !slices.Contains(codes, code) {
			t.Errorf("Error.code enum: got %v, want it to include %q", codes, code)
		}
	}
	for name, header := range map[string]string{"MethodNotAllowed": "Allow", "RateLimited": "Retry-After", "Unavailable": "Retry-After", "MemberLookupsRateLimited": "Retry-After"} {
		if _, ok := doc.Components.Responses[name].Headers[header]; !ok {
			t.Errorf("response %s: got no %s header, want one", name, header)
		}
	}

	h, ok := routerForTest(t).(http.Handler)
	if !ok {
		t.Fatal("the router is not an http.Handler")
	}
	ids := strings.NewReplacer("{id}", "1", "{user_id}", "2")
	for path, item := range doc.Paths {
		for m, op := range item {
			if _, ok := op.Responses["415"]; len(op.RequestBody) > 0 && !ok {
				t.Errorf("%s %s takes a JSON body: got no 415 response, want one", strings.ToUpper(m), path)
			}
		}
		// A path without a template (/api/deals/list) is matched before
		// the templates it also fits (/api/deals/{id}), as OpenAPI says:
		// Allow names its own methods. A templated path's Allow names the
		// methods of every template the concrete path fits. Every GET
		// answers HEAD too (the contract), described or not.
		concrete := ids.Replace(path)
		var methods []string
		for _, m := range web.RouteMethods {
			if item, exact := doc.Paths[concrete]; exact {
				_, ok := item[strings.ToLower(m)]
				if _, get := item["get"]; m == http.MethodHead && get {
					ok = true
				}
				if ok {
					methods = append(methods, m)
				}
				continue
			}
			for other, item := range doc.Paths {
				_, ok := item[strings.ToLower(m)]
				if _, get := item["get"]; m == http.MethodHead && get {
					ok = true
				}
				if ok && templateMatches(other, concrete) {
					methods = append(methods, m)
					break
				}
			}
		}
		if slices.Contains(methods, http.MethodPut) {
			continue
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, concrete, nil))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("PUT %s: got %d, want 405", path, w.Code)
			continue
		}
		if got, want := w.Header().Get("Allow"), strings.Join(methods, ", "); got != want {
			t.Errorf("PUT %s: got Allow %q, want %q (the methods openapi.json describes)", path, got, want)
		}
	}
}

// templateMatches reports whether an OpenAPI path template such as
// /api/deals/{id} matches the concrete path.
func templateMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if ts[i] != ps[i] && (!strings.HasPrefix(ts[i], "{") || ps[i] == "") {
			return false
		}
	}
	return true
}
