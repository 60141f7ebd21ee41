package deal

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Roles a user can have towards a deal.
const (
	RoleOwner  = "owner"
	RoleMember = "member"
	RoleAdmin  = "admin"
)

// User is a person who signs in.
type User struct {
	ID               int64  `json:"id"`
	Email            string `json:"email"`
	Name             string `json:"name"`
	IsAdmin          bool   `json:"is_admin"`
	RememberLastDeal bool   `json:"remember_last_deal"`
}

// Deal is a workspace as one user sees it: Role is what that user is to it.
type Deal struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// ManagingRoles are the roles that may delete a deal and manage its members.
var ManagingRoles = []string{RoleOwner, RoleAdmin}

// CanManage reports whether the role may delete the deal and manage members.
func CanManage(role string) bool { return slices.Contains(ManagingRoles, role) }

// Member is one user's membership of a deal.
type Member struct {
	UserID int64  `json:"user_id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
}

// Audit actions, as the contract lists them.
const (
	ActionLogin         = "auth.login"
	ActionLoginFailed   = "auth.login_failed"
	ActionLogout        = "auth.logout"
	ActionDealCreated   = "deal.created"
	ActionDealDeleted   = "deal.deleted"
	ActionDealSelected  = "deal.selected"
	ActionDealRestored  = "deal.restored"
	ActionRestoreDenied = "deal.restore_denied"
	ActionDealCleared   = "deal.cleared"
	ActionMemberAdded   = "member.added"
	ActionMemberRemoved = "member.removed"
	ActionTokenTheft    = "auth.token_theft"
	// ActionSessionRevoked is one session ended by its user from the
	// device list.
	ActionSessionRevoked = "session.revoked"
	// ActionPasswordChanged is a user changing their own password.
	ActionPasswordChanged = "auth.password_changed"
)

// AuditActions lists every audit action, as the contract names them.
var AuditActions = []string{
	ActionLogin, ActionLoginFailed, ActionLogout, ActionDealCreated, ActionDealDeleted,
	ActionDealSelected, ActionDealRestored, ActionRestoreDenied, ActionDealCleared,
	ActionMemberAdded, ActionMemberRemoved, ActionSessionRevoked, ActionPasswordChanged,
	ActionTokenTheft,
}

// Actor says who did something and from where, for the audit trail.
type Actor struct {
	UserID    int64
	RequestID string
	IP        string
	UserAgent string
}

// AuditEvent is one recorded action.
type AuditEvent struct {
	ID           int64           `json:"id"`
	OccurredAt   time.Time       `json:"occurred_at"`
	Action       string          `json:"action"`
	ActorUserID  *int64          `json:"actor_user_id"`
	DealID       *int64          `json:"deal_id"`
	TargetUserID *int64          `json:"target_user_id"`
	RequestID    string          `json:"request_id"`
	IP           string          `json:"ip"`
	UserAgent    string          `json:"user_agent"`
	Details      json.RawMessage `json:"details"`
}

// AuditFilter narrows an audit query; zero fields do not filter.
type AuditFilter struct {
	DealID  int64
	ActorID int64
	Action  string
	Before  int64
	Limit   int
}

// Restore outcomes of the auto-restore middleware, used in metrics and logs.
const (
	RestoreRestored = "restored"
	RestoreNone     = "none"
	RestoreDenied   = "denied"
	RestoreDeleted  = "deleted"
	RestoreError    = "error"
)

// NormalizeEmail returns the canonical form of an email address for lookups.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// MaxEmailLen is the longest email address accepted, in bytes (RFC 5321's
// limit on a path, less its angle brackets).
const MaxEmailLen = 254

// MaxPasswordLen is the longest password a sign-in accepts, in bytes.
const MaxPasswordLen = 1024

// HasControl reports whether s holds a control character (U+0000 to U+001F,
// U+007F to U+009F): nothing a person types into a name or an address.
func HasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// validateName checks a name of what for control characters and length in
// characters, and returns it trimmed; empty is an error only when required.
func validateName(what, s string, maxLen int, required bool) (string, error) {
	if HasControl(s) {
		// Before trimming: a trailing newline or tab is refused too.
		return "", Errorf(EINVALID, "%s must not contain control characters.", what)
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return "", Errorf(EINVALID, "%s is required.", what)
	case utf8.RuneCountInString(s) > maxLen:
		return "", Errorf(EINVALID, "%s must be at most %d characters.", what, maxLen)
	}
	return s, nil
}

// ValidateDealName checks a deal name (1 to 200 characters once trimmed, no
// control characters anywhere) and returns it trimmed.
func ValidateDealName(s string) (string, error) { return validateName("Deal name", s, 200, true) }

// ValidateUserName checks a user's display name (optional; at most 200
// characters once trimmed, no control characters anywhere) and returns it
// trimmed.
func ValidateUserName(s string) (string, error) { return validateName("Name", s, 200, false) }

// ValidateEmail checks that s is a plain address (local@domain, no display
// name, brackets, comments, quoting, spaces or control characters; at most
// 254 bytes) and returns it trimmed; the error says what is wrong.
func ValidateEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", Errorf(EINVALID, "Email is required.")
	case len(s) > MaxEmailLen:
		return "", Errorf(EINVALID, "Email is too long (at most %d characters).", MaxEmailLen)
	case HasControl(s):
		return "", Errorf(EINVALID, "Email must not contain control characters.")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 || !isDotAtom(s[:at]) || len(s[:at]) > 64 || !isDomain(s[at+1:]) {
		return "", Errorf(EINVALID, "Email must be a plain address such as name@example.com.")
	}
	return s, nil
}

// ValidateLogin checks a sign-in's email and password before any lookup,
// for JSON and form sign-ins alike: present, within their lengths, and
// nothing PostgreSQL cannot store or no address holds (a NUL, control
// characters in the email). The error says what is wrong. It does not check
// the email's form: an address that no account has is for the credentials
// check to refuse, in the same words as a wrong password.
func ValidateLogin(email, password string) error {
	switch {
	case email == "" || password == "":
		return Errorf(EINVALID, "Email and password are required.")
	case len(email) > MaxEmailLen:
		return Errorf(EINVALID, "Email is too long (at most %d characters).", MaxEmailLen)
	case len(password) > MaxPasswordLen:
		return Errorf(EINVALID, "Password is too long (at most %d characters).", MaxPasswordLen)
	case HasControl(email):
		return Errorf(EINVALID, "Email must not contain control characters.")
	case strings.IndexByte(password, 0) >= 0:
		return Errorf(EINVALID, "Password must not contain the NUL character.")
	}
	return nil
}

// isDotAtom reports whether s is an RFC 5322 dot-atom: atoms of letters,
// digits, non-ASCII letters and !#$%&'*+-/=?^_`{|}~, joined by single dots.
func isDotAtom(s string) bool {
	if s == "" {
		return false
	}
	for _, atom := range strings.Split(s, ".") {
		if atom == "" {
			return false
		}
		for _, c := range atom {
			if !isAtomChar(c) {
				return false
			}
		}
	}
	return true
}

func isAtomChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c > 0x7f:
		return unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsMark(c)
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", c)
}

// isDomain reports whether s is a host name: labels of letters, digits and
// inner hyphens, at most 63 bytes each and 253 in all.
func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' ||
				c > 0x7f && (unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsMark(c))
			if !ok {
				return false
			}
		}
	}
	return true
}
