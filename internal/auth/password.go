// Package auth provides the credential primitives: argon2id password hashes
// and split remember-me tokens. It does no I/O.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes and checks passwords with argon2id at a configurable cost.
// argon2 allocates its whole memory (MemoryKiB) for every hash, so a burst of
// sign-ins would grow the process by that much per request: a bounded
// Hasher (Bound) runs at most a fixed number of hashes at once, and a caller
// that finds no slot within the wait gets ErrBusy.
type Hasher struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	dummy     string

	slots chan struct{} // nil: unbounded
	wait  time.Duration
}

// ErrBusy is returned when every hashing slot stayed taken for the whole
// wait: the caller answers 503 with Retry-After.
var ErrBusy = errors.New("auth: every password hashing slot is busy")

// Bound makes h run at most n hashes (and checks) at once, each caller
// waiting up to wait for a slot; it returns h. n < 1 means 1.
func (h *Hasher) Bound(n int, wait time.Duration) *Hasher {
	h.slots = make(chan struct{}, max(n, 1))
	h.wait = wait
	return h
}

// acquire takes a hashing slot, waiting up to h.wait (or until ctx ends).
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	if h.slots == nil {
		return func() {}, nil
	}
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ErrBusy
	}
}

// HashCtx is Hash within a hashing slot.
func (h *Hasher) HashCtx(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return h.Hash(password)
}

// VerifyCtx is Verify within a hashing slot; an unknown account (empty
// encoded) takes a slot too, so both cost the same.
func (h *Hasher) VerifyCtx(ctx context.Context, password, encoded string) (bool, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return h.Verify(password, encoded), nil
}

// NewHasher returns a Hasher at the given cost (OWASP: 19456 KiB, 2 passes).
func NewHasher(memoryKiB, time uint32) *Hasher {
	h := &Hasher{MemoryKiB: memoryKiB, Time: time, Threads: 1}
	h.dummy, _ = h.Hash("dummy password for unknown accounts")
	return h
}

// Hash returns the PHC-format argon2id hash of password with a fresh salt,
// outside any slot (one-off commands and fixtures; requests use HashCtx).
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
