// Package templates holds the server-rendered pages: their templates and static
// files, embedded in the binary so the api needs no front-end build step or
// CDN, and one Go struct per page saying what its template may use. It
// knows nothing of the server: handlers fill a page's struct and Render
// writes it.
package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
)

// Files holds the html/template files (*.html) and the static assets
// (static/).
//
//go:embed *.html static
var Files embed.FS

// names are the page templates, each parsed with layout.html.
var names = []string{"login", "selector", "deal", "sessions", "error", "admin", "account", "deal_delete"}

// Set is the parsed page templates with the static files' hash.
type Set struct {
	tmpl map[string]*template.Template
	// Asset is a hash of the static files, for cache-busting URLs.
	Asset string
}

// New parses the embedded templates and hashes the static files; they are
// part of the binary, so an error is a programming error and panics.
func New() *Set {
	s := &Set{tmpl: map[string]*template.Template{}}
	for _, name := range names {
		s.tmpl[name] = template.Must(template.ParseFS(Files, "layout.html", name+".html"))
	}
	h := sha256.New()
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		b, err := fs.ReadFile(Files, "static/"+name)
		if err != nil {
			panic(err)
		}
		h.Write(b)
	}
	s.Asset = hex.EncodeToString(h.Sum(nil))[:12]
	return s
}

// execute returns the page template name executed with data; it executes
// into a buffer, so a template error never leaves a half-written page.
func (s *Set) execute(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.tmpl[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
