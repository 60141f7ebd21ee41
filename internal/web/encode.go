package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/jsonstr"
	"github.com/go-chi/chi/v5"
)

// maxBodyBytes is the largest request body accepted.
const maxBodyBytes = 1 << 20

// JSONAppender is a response body that appends its own JSON without
// reflection: exactly the bytes json.Marshal would write, or ok false to
// leave the value to json.Marshal. The hot path's answer (the current deal)
// is one.
type JSONAppender interface {
	AppendJSON(b []byte) (out []byte, ok bool)
}

// jsonContentType is WriteJSON's Content-Type, assigned under its canonical
// key without an allocation; it is a full slice (len == cap), so an Add after
// it copies rather than writes through.
var jsonContentType = []string{"application/json; charset=utf-8"}

// WriteJSON writes v with status; headers are set before WriteHeader.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var b []byte
	var err error
	appended := false
	if a, ok := v.(JSONAppender); ok {
		b, appended = a.AppendJSON(make([]byte, 0, 256))
	}
	if !appended {
		b, err = json.Marshal(v)
	}
	if err != nil {
		// Only a programming error gets here: a value JSON cannot hold.
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"An internal error occurred."}}`)
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	// A failed write means the client went away: no one is left to tell.
	_, _ = w.Write(append(b, '\n'))
}

// Reply is a JSON handler's one ending: err through WriteError when it is
// not nil, else v as JSON with status. v may be built from the zero values
// a failed call returned; it is not written then.
func (s *Server) Reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	WriteJSON(w, status, v)
}

// Decode reads exactly one JSON object of type T from the body, refusing a
// body declared as anything but JSON (415), bytes that are not UTF-8 (which
// encoding/json would quietly turn into U+FFFD), unknown fields, wrong
// types, trailing data, bodies over 1 MiB, and any string holding a NUL
// character, which PostgreSQL cannot store. A body without Content-Type is
// read as JSON.
func Decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return v, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return v, decodeError(err)
	}
	if !utf8.Valid(body) {
		return v, errNotUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return v, decodeError(err)
		}
		return v, deal.Errorf(deal.EINVALID, "The body must hold a single JSON object.")
	}
	if field, ok := nulField(reflect.ValueOf(&v).Elem(), ""); ok {
		if field == "" {
			return v, deal.Errorf(deal.EINVALID, "The body must not contain the NUL character (\\u0000).")
		}
		return v, deal.Errorf(deal.EINVALID, "Field %q must not contain the NUL character (\\u0000).", field)
	}
	return v, nil
}

// errNotUTF8 refuses input that is not text: bytes that are not UTF-8.
var errNotUTF8 = deal.Errorf(deal.EINVALID, "The request must be UTF-8 text.")

// checkText refuses a string that is not UTF-8 or holds a NUL character:
// neither is text a person sends, and PostgreSQL stores neither (SQLSTATE
// 22021). Control characters are for the validator of each field (a name
// refuses them, a password may hold them).
func checkText(what, s string) error {
	switch {
	case !utf8.ValidString(s):
		return deal.Errorf(deal.EINVALID, "%s must be UTF-8 text.", what)
	case strings.IndexByte(s, 0) >= 0:
		return deal.Errorf(deal.EINVALID, "%s must not contain the NUL character.", what)
	}
	return nil
}

// checkValues checks every name and value of vs with checkText; what names
// them ("Field", "Query parameter").
func checkValues(what string, vs url.Values) error {
	for k, v := range vs {
		if err := checkText(what+" names", k); err != nil {
			return err
		}
		for _, s := range v {
			if err := checkText(fmt.Sprintf("%s %q", what, k), s); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseForm is the one place a form is read: at most 1 MiB (413 beyond),
// and every field UTF-8 without NUL (400), so no form reaches PostgreSQL
// with bytes it cannot store. It fills r.Form and r.PostForm.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return deal.Errorf(deal.ETOOLARGE, "The body must be at most 1 MiB.")
		}
		return deal.Errorf(deal.EINVALID, "The form could not be read.")
	}
	return checkValues("Field", r.Form)
}

// checkContentType accepts an absent Content-Type or application/json with
// any parameters, except a charset other than UTF-8 (JSON is UTF-8).
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		cs, ok := params["charset"]
		if !ok || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8") {
			return nil
		}
	}
	return deal.Errorf(deal.EUNSUPPORTED, "The body must be JSON, sent as Content-Type: application/json.")
}

// nulField reports whether a string anywhere in v holds a NUL character, and
// the JSON name of the top-level field it was found in ("" for v itself).
func nulField(v reflect.Value, field string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return field, strings.IndexByte(v.String(), 0) >= 0
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulField(v.Elem(), field)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := field
			if name == "" {
				name = jsonName(f)
			}
			if got, ok := nulField(v.Field(i), name); ok {
				return got, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if got, ok := nulField(v.Index(i), field); ok {
				return got, true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if _, ok := nulField(it.Key(), field); ok {
				return field, true
			}
			if got, ok := nulField(it.Value(), field); ok {
				return got, true
			}
		}
	}
	return "", false
}

// jsonName is the name encoding/json gives a struct field.
func jsonName(f reflect.StructField) string {
	if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
		return name
	}
	return f.Name
}

func decodeError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return deal.Errorf(deal.ETOOLARGE, "The body must be at most 1 MiB.")
	case errors.Is(err, io.EOF):
		return deal.Errorf(deal.EINVALID, "The body must be a JSON object.")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return deal.Errorf(deal.EINVALID, "The body is not valid JSON.")
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return deal.Errorf(deal.EINVALID, "Field %q has the wrong type.", typeErr.Field)
		}
		return deal.Errorf(deal.EINVALID, "The body must be a JSON object.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return deal.Errorf(deal.EINVALID, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return deal.Errorf(deal.EINVALID, "The body could not be read: %s", sanitize(err.Error()))
}

func sanitize(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.ToValidUTF8(s, "")
}

// pathID parses the URL parameter name as a positive 64-bit id.
func pathID(r *http.Request, name string) (int64, error) {
	return ParseID(chi.URLParam(r, name))
}

// ParseID parses s as a positive 64-bit id in canonical form: decimal
// digits without sign or leading zero, so one deal has one URL ("+1" and
// "01" would otherwise name deal 1 too).
func ParseID(s string) (int64, error) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, deal.Errorf(deal.EINVALID, "The id must be a positive integer.")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, deal.Errorf(deal.EINVALID, "The id must be a positive integer.")
	}
	return id, nil
}

// QueryID parses an optional positive id from the query string; absent is 0.
func QueryID(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	id, err := ParseID(s)
	if err != nil {
		return 0, deal.Errorf(deal.EINVALID, "%s must be a positive integer.", name)
	}
	return id, nil
}

// AppendDealJSON appends d as json.Marshal writes it, reporting false
// (having appended nothing of worth) when a string would need escaping or
// the time lies outside what JSON's RFC 3339 can hold: those few are left
// to json.Marshal, so the bytes never differ.
func AppendDealJSON(b []byte, d deal.Deal) ([]byte, bool) {
	if !jsonstr.Plain(d.Name) || !jsonstr.Plain(d.Role) || d.CreatedAt.Year() < 0 || d.CreatedAt.Year() > 9999 {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, d.ID, 10)
	b = append(b, `,"name":"`...)
	b = append(b, d.Name...)
	b = append(b, `","role":"`...)
	b = append(b, d.Role...)
	b = append(b, `","created_at":"`...)
	b = d.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...), true
}
