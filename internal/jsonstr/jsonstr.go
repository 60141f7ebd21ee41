// Package jsonstr holds the one rule the hand-written JSON on the hot path
// shares (the current deal's answer, the access line): which strings
// encoding/json, and slog's JSON handler, write between quotes as they are.
package jsonstr

// Plain reports whether s is printable ASCII that encoding/json writes as
// is: no quote, no backslash, and none of the <, > and & it escapes for
// HTML. A writer that appends s by hand when Plain holds writes exactly
// the bytes json.Marshal would; any other s must go through encoding/json.
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
