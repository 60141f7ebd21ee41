package api

import (
	_ "embed"
	"net/http"
)

// OpenAPIDocument is the OpenAPI 3.1 description of the JSON API; a test
// holds it to the router, route by route.
//
//go:embed openapi.json
var OpenAPIDocument []byte

// OpenAPI serves the OpenAPI document.
func OpenAPI() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		// A failed write means the client went away: no one is left to tell.
		_, _ = w.Write(OpenAPIDocument)
	}
}
