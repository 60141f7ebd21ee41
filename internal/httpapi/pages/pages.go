// Package pages holds the server-rendered pages' templates and static files,
// embedded in the binary so the api needs no front-end build step or CDN.
package pages

import "embed"

// Files holds the html/template files (*.html) and the static assets
// (static/), read by internal/httpapi.
//
//go:embed *.html static
var Files embed.FS
