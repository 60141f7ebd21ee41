package templates

import (
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// Page is one page's data: its own struct, with the Layout embedded.
type Page interface {
	// template names the page's template file (without .html).
	template() string
	// Frame is the embedded Layout: the handler sets its User, Render its
	// Asset.
	Frame() *Layout
}

// Render returns p's page with the static files' hash in its Layout. It
// executes into a buffer, so a template error never leaves a half-written
// page.
func (s *Set) Render(p Page) ([]byte, error) {
	p.Frame().Asset = s.Asset
	return s.execute(p.template(), p)
}

// Layout is what the frame around every page shows: the static files'
// version and the signed-in user's bar.
type Layout struct {
	// Asset is the static files' hash, for cache-busting URLs; Render
	// sets it.
	Asset string
	// User is the signed-in user; nil shows no account bar.
	User *deal.User
}

// Frame returns the page's Layout (every page embeds one).
func (l *Layout) Frame() *Layout { return l }

// LoginPage is the sign-in form (login.html).
type LoginPage struct {
	Layout
	// Next is where to go after signing in ("" for the default).
	Next string
	// Email and Error are a refused sign-in's email and message.
	Email, Error string
}

func (*LoginPage) template() string { return "login" }

// SelectorPage is the deal selector (selector.html).
type SelectorPage struct {
	Layout
	Deals []deal.Deal
	// CurrentID is the session's deal when the user may still see it.
	CurrentID int64
	// Prompt asks the user to choose a deal, for lack of a current one.
	Prompt bool
	Notice string
	// CreateName and CreateError are a refused new deal's name and message.
	CreateName, CreateError string
}

func (*SelectorPage) template() string { return "selector" }

// DealPage is a deal's page (deal.html).
type DealPage struct {
	Layout
	Deal deal.Deal
	// Restored says the deal was restored at sign-in (shown once).
	Restored bool
	Members  []deal.Member
	// Manage is for owners and admins: the member forms, delete, activity.
	Manage bool
	Events []Activity
	Notice string
	// MemberEmail and MemberError are a refused member's email and message.
	MemberEmail, MemberError string
}

func (*DealPage) template() string { return "deal" }

// Activity is one event of a deal's activity as a sentence a person reads
// ("Bob was removed by Alice"), with when it happened.
type Activity struct {
	At   time.Time
	Text string
	Ago  string // "5 minutes ago"
}

// DealDeletePage asks whether to delete a deal (deal_delete.html).
type DealDeletePage struct {
	Layout
	Deal deal.Deal
}

func (*DealDeletePage) template() string { return "deal_delete" }

// AccountPage is the account page (account.html): the preference, the
// password form and the way to the devices.
type AccountPage struct {
	Layout
	Notice        string
	PasswordError string
}

func (*AccountPage) template() string { return "account" }

// SessionsPage is the signed-in devices (sessions.html).
type SessionsPage struct {
	Layout
	Devices []Device
	Notice  string
}

func (*SessionsPage) template() string { return "sessions" }

// Device is one signed-in device in words.
type Device struct {
	ID         string
	Name       string // "Firefox on Linux"
	IP         string
	LastSeen   string // "5 minutes ago"
	LastSeenAt time.Time
	CreatedAt  time.Time
	Current    bool
	Remembered bool
}

// ErrorPage is an error's page (error.html): the status, what went wrong,
// a way back and, for passing trouble, a way to try again.
type ErrorPage struct {
	Layout
	Status         int
	Title, Message string
	// Retry is the address to try again ("" shows no link).
	Retry string
}

func (*ErrorPage) template() string { return "error" }

// AdminPage is the admins' figures (admin.html).
type AdminPage struct {
	Layout
	Windows []Window
	Status  string // the session layer: "ok" or "degraded"
	Store   string
	Redis   string // "healthy", "unhealthy" or "not configured"
	Breaker string
	// Topology and Node are how Redis is deployed and the address that
	// answered: for admins only, never on the public health report.
	Topology, Node string
	Charts         []Chart
	// Schedule is the worker's schedule as this process's cron variables
	// give it; ScheduleError says why it could not be read.
	Schedule      []ScheduledJob
	ScheduleError string
}

func (*AdminPage) template() string { return "admin" }

// Window is one window's figures, as sentences with their targets.
type Window struct {
	Title   string
	Figures []Figure
}

// Figure is one figure: what it is, its value, its target and whether the
// value meets it ("" when there is no target or no value).
type Figure struct {
	Name, Value, Target, Verdict string
}

// Chart is a bar chart of the last seven days.
type Chart struct {
	Title, Label string
	Bars         []Bar
	// TargetY is where the target's line is drawn; 0 draws none.
	TargetY     int
	TargetLabel string
}

// Bar is one day's bar; Y and Height are in the chart's 0..60 coordinates.
type Bar struct {
	X, Y, Width, Height int
	Day, Value          string
}

// ScheduledJob is one job of the worker's schedule: its name, its spec,
// the variable the spec comes from, and its next runs.
type ScheduledJob struct {
	Name, Spec, From string
	Next             []Run
}

// Run is one activation time: RFC 3339 for <time datetime>, and as read.
type Run struct{ ISO, Text string }
