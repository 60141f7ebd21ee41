package web

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web/pages/templates"
)

// This file is the pages' rendering (package pages holds the templates and
// each page's struct): the static files' handler, the HTTP answer of a
// page, and WriteError's HTML error page.

// PageSet is the parsed page templates and the static files' handler.
type PageSet struct {
	*templates.Set
	Static http.Handler
}

// NewPageSet parses the embedded templates (templates.New). A static file that
// does not exist (or a directory) is answered by notFound.
func NewPageSet(notFound http.HandlerFunc) *PageSet {
	static, err := fs.Sub(templates.Files, "static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	return &PageSet{Set: templates.New(), Static: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/static/")
		if st, err := fs.Stat(static, name); err != nil || st.IsDir() || strings.HasSuffix(r.URL.Path, "/") {
			notFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})}
}

// PageNotices are what a page says after a form's 303 (?done=KEY): the
// address carries only the key, never text, so no link can put words on
// the page.
var PageNotices = map[string]string{
	"revoked":        "That device is signed out.",
	"others":         "Every other device is signed out.",
	"changed":        "Your password is changed, and every other device is signed out.",
	"member-added":   "The member is added.",
	"member-removed": "The member is removed.",
	"deleted":        "The deal is deleted.",
	"remember-on":    "Your last deal will be remembered.",
	"remember-off":   "Your last deal will no longer be remembered.",
}

// DoneURL is path saying done's notice after a form's 303.
func DoneURL(path, done string) string { return path + "?done=" + done }

// RenderFor writes p's page with u in its account bar.
func (s *Server) RenderFor(w http.ResponseWriter, r *http.Request, status int, u deal.User, p templates.Page) {
	p.Frame().User = &u
	s.Render(w, r, status, p)
}

// Render writes p's page, whole or not at all.
func (s *Server) Render(w http.ResponseWriter, r *http.Request, status int, p templates.Page) {
	page, err := s.Pages.Render(p)
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "render page", "page", fmt.Sprintf("%T", p), "err", err)
		http.Error(w, msgInternal, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if _, err := w.Write(page); err != nil {
		s.Logger.DebugContext(r.Context(), "write page", "page", fmt.Sprintf("%T", p), "err", err)
	}
}

// errorTitles are the error page's headings by status.
var errorTitles = map[int]string{
	http.StatusBadRequest:            "That request was not understood",
	http.StatusUnauthorized:          "Please sign in",
	http.StatusForbidden:             "Not allowed",
	http.StatusNotFound:              "Page not found",
	http.StatusMethodNotAllowed:      "Not allowed here",
	http.StatusRequestEntityTooLarge: "That was too large",
	http.StatusTooManyRequests:       "Too many attempts",
	http.StatusServiceUnavailable:    "Briefly unavailable",
}

// renderErrorPage is WriteError's HTML rendering: the status, what went
// wrong, a way back, and for passing trouble a way to try again.
func (s *Server) renderErrorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	data := &templates.ErrorPage{Status: status, Title: errorTitles[status], Message: msg}
	if data.Title == "" {
		data.Title = "Something went wrong"
	}
	if status == http.StatusNotFound {
		data.Message = "There is nothing here for you: the address is wrong, or the deal was deleted or is not shared with you."
	}
	if status >= 500 && r.Method == http.MethodGet {
		data.Retry = r.URL.RequestURI()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", pageCSP)
	s.Render(w, r, status, data)
}

// LoginURL is the sign-in page that goes on to next when next is safe.
func LoginURL(next string) string {
	if next = SafeNext(next); next == "" {
		return "/login"
	}
	return "/login?" + url.Values{"next": {next}}.Encode()
}

// SafeNext returns where ?next= may send the user: a path on this site, as
// it will read after http.Redirect cleans it, or "" when next is anything
// else (another site, a scheme, a backslash, control characters) or merely
// the home page. The decision is on the final, cleaned value, so nothing
// a browser resolves off-site survives.
func SafeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return ""
	}
	p, query, _ := strings.Cut(next, "?")
	if query != "" {
		query = "?" + query
	}
	// What http.Redirect does to a path: clean it, keeping a trailing slash.
	cleaned := path.Clean(p)
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(cleaned, "/") {
		cleaned += "/"
	}
	final := cleaned + query
	if final == "/" || strings.HasPrefix(final, "//") || strings.ContainsRune(final, '\\') {
		return ""
	}
	for _, c := range final {
		if c < 0x20 || c == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(final)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return ""
	}
	return final
}
