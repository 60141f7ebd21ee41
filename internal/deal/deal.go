package deal

import (
	"encoding/json"
	"strings"
	"time"
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

// CanManage reports whether the role may delete the deal and manage members.
func CanManage(role string) bool { return role == RoleOwner || role == RoleAdmin }

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
)

// AuditActions lists every audit action, as the contract names them.
var AuditActions = []string{
	ActionLogin, ActionLoginFailed, ActionLogout, ActionDealCreated, ActionDealDeleted,
	ActionDealSelected, ActionDealRestored, ActionRestoreDenied, ActionDealCleared,
	ActionMemberAdded, ActionMemberRemoved, ActionTokenTheft,
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
	// OwnerID, when set, keeps only events of deals this user owns.
	OwnerID int64
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

// ValidateDealName checks a deal name and returns it trimmed.
func ValidateDealName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", Errorf(EINVALID, "Deal name is required.")
	case len(s) > 200:
		return "", Errorf(EINVALID, "Deal name must be at most 200 characters.")
	}
	return s, nil
}

// ValidateEmail does the light check an API can do on an address.
func ValidateEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n") {
		return "", Errorf(EINVALID, "A valid email address is required.")
	}
	return s, nil
}
