package auth

import (
	"strings"
	"testing"
)

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	h := NewHasher(64, 1)
	hash, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash format: got %q, want PHC argon2id", hash)
	}
	tests := []struct {
		name, password, hash string
		want                 bool
	}{
		{"right password", "correct horse", hash, true},
		{"wrong password", "correct horsf", hash, false},
		{"unknown account", "correct horse", "", false},
		{"malformed hash", "correct horse", "$argon2id$v=19$garbage", false},
		{"other algorithm", "correct horse", "$2a$10$abcdefghijklmnopqrstuv", false},
	}
	for _, tt := range tests {
		if got := h.Verify(tt.password, tt.hash); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	other, _ := h.Hash("correct horse")
	if other == hash {
		t.Fatalf("two hashes of one password are equal: salts are not random")
	}
}

func TestRememberTokenRoundTrip(t *testing.T) {
	t.Parallel()
	tok, err := NewRememberToken()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := ParseRememberToken(tok.String())
	if !ok || got != tok {
		t.Fatalf("parse: got (%+v, %v), want (%+v, true)", got, ok, tok)
	}
	if !ValidatorMatches(tok.Validator, HashValidator(tok.Validator)) {
		t.Fatalf("validator does not match its own hash")
	}
	v2, _ := NewValidator()
	if ValidatorMatches(v2, HashValidator(tok.Validator)) {
		t.Fatalf("a different validator matches")
	}
	for _, bad := range []string{"", ".", tok.Selector, tok.Selector + ".", "." + tok.Validator, tok.String() + "x", strings.ToUpper(tok.String()) + "!"} {
		if _, ok := ParseRememberToken(bad); ok {
			t.Errorf("parse %q: accepted, want refused", bad)
		}
	}
}

func TestCheckPasswordCountsCharacters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pw string
		ok       bool
	}{
		{"empty", "", false},
		{"eleven", "elevenchars", false},
		{"twelve", "twelve-chars", true},
		{"eleven multibyte characters", "ééééééééééé", false},
		{"twelve multibyte characters", "éééééééééééé", true},
	}
	for _, tt := range tests {
		if err := CheckPassword(tt.pw); (err == nil) != tt.ok {
			t.Errorf("%s: CheckPassword(%q) = %v, want ok %v", tt.name, tt.pw, err, tt.ok)
		}
	}
}
