package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// RememberToken is the split token a remember-me cookie carries: the selector
// finds the row, the validator proves possession. Only HashValidator(validator)
// is stored.
type RememberToken struct {
	Selector  string
	Validator string
}

// NewRememberToken returns a token with a fresh random selector and validator.
func NewRememberToken() (RememberToken, error) {
	sel, err := randomString(12)
	if err != nil {
		return RememberToken{}, err
	}
	val, err := randomString(32)
	if err != nil {
		return RememberToken{}, err
	}
	return RememberToken{Selector: sel, Validator: val}, nil
}

// NewValidator returns a fresh validator for rotation.
func NewValidator() (string, error) { return randomString(32) }

// String encodes the token as the cookie value "selector.validator".
func (t RememberToken) String() string { return t.Selector + "." + t.Validator }

// ParseRememberToken decodes a cookie value; ok is false for anything malformed.
func ParseRememberToken(s string) (RememberToken, bool) {
	sel, val, found := strings.Cut(s, ".")
	if !found || !validPart(sel, 16) || !validPart(val, 43) {
		return RememberToken{}, false
	}
	return RememberToken{Selector: sel, Validator: val}, true
}

// HashValidator returns the SHA-256 of a validator, the form that is stored.
func HashValidator(validator string) []byte {
	sum := sha256.Sum256([]byte(validator))
	return sum[:]
}

// ValidatorMatches compares a presented validator with a stored hash in
// constant time.
func ValidatorMatches(validator string, hash []byte) bool {
	return len(hash) == sha256.Size && subtle.ConstantTimeCompare(HashValidator(validator), hash) == 1
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func validPart(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
