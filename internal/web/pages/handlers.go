// Package pages holds the page handlers: the HTML routes (/login, /,
// /deal, /deals, /deals/{id}…, /account…, /admin), forms that answer 303
// to a page saying what happened, and HTML errors. Their templates are
// internal/web/pages/templates; what they share with the JSON API (the
// server, the error writer, the use cases, rendering) is internal/web;
// the routes are internal/httpapi's.
package pages

import "github.com/dealctx/dealctx/internal/web"

// Handlers are the page handlers, methods over the shared server.
type Handlers struct{ *web.Server }
