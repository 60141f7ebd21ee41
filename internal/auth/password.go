// Package auth provides the credential primitives: argon2id password hashes
// and split remember-me tokens. It does no I/O.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes and checks passwords with argon2id at a configurable cost.
type Hasher struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	dummy     string
}

// NewHasher returns a Hasher at the given cost (OWASP: 19456 KiB, 2 passes).
func NewHasher(memoryKiB, time uint32) *Hasher {
	h := &Hasher{MemoryKiB: memoryKiB, Time: time, Threads: 1}
	h.dummy, _ = h.Hash("dummy password for unknown accounts")
	return h
}

// Hash returns the PHC-format argon2id hash of password with a fresh salt.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, h.Time, h.MemoryKiB, h.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.MemoryKiB, h.Time, h.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded. An empty encoded hash (an
// unknown account) is checked against a dummy hash so it costs the same time.
func (h *Hasher) Verify(password, encoded string) bool {
	if encoded == "" {
		verify(password, h.dummy)
		return false
	}
	return verify(password, encoded)
}

func verify(password, encoded string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var mem, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || p == 0 || t == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// MinPasswordLength is the fewest characters a new password may have.
const MinPasswordLength = 12

// ErrWeakPassword is returned for passwords too short to accept.
var ErrWeakPassword = errors.New("password must be at least 12 characters")

// CheckPassword enforces the minimum password policy: at least
// MinPasswordLength characters (not bytes).
func CheckPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return ErrWeakPassword
	}
	return nil
}
