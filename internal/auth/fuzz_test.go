package auth

import (
	"strings"
	"testing"
)

func FuzzParseRememberToken(f *testing.F) {
	tok, _ := NewRememberToken()
	for _, s := range []string{tok.String(), "", ".", "a.b", tok.Selector + ".", "." + tok.Validator,
		tok.String() + ".x", strings.Repeat("A", 16) + "." + strings.Repeat("B", 43),
		strings.Repeat("=", 16) + "." + strings.Repeat("+", 43), "\x00\xff.\xfe", strings.Repeat("a.", 4096)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseRememberToken(s)
		if !ok {
			if got != (RememberToken{}) {
				t.Fatalf("ParseRememberToken(%q): got %+v with ok=false, want the zero token", s, got)
			}
			return
		}
		if got.String() != s {
			t.Fatalf("ParseRememberToken(%q).String(): got %q, want the input back", s, got.String())
		}
		if len(got.Selector) != 16 || len(got.Validator) != 43 {
			t.Fatalf("ParseRememberToken(%q): got parts of %d and %d bytes, want 16 and 43", s, len(got.Selector), len(got.Validator))
		}
		// A valid-looking token is checked in constant time against a
		// stored hash without trouble.
		ValidatorMatches(got.Validator, HashValidator(got.Validator))
	})
}
