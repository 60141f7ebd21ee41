// Package api holds the JSON API's handlers: the /api/... routes and the
// probes (/healthz, /readyz), each answering JSON or the contract's error,
// and the OpenAPI document that describes them (openapi.json). What they
// share with the pages (the server, the error writer, decoding, the use
// cases) is internal/web; the routes are internal/httpapi's.
package api

import "github.com/dealctx/dealctx/internal/web"

// Handlers are the JSON API's handlers, methods over the shared server.
type Handlers struct{ *web.Server }
