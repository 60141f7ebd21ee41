package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/app"
	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/ratelimit"
	"github.com/dealctx/dealctx/internal/redisclient/redistest"
	"github.com/dealctx/dealctx/internal/session"
)

// The use cases run here against real PostgreSQL and Redis, inside a real
// session loaded by the session layer's own middleware: what app decides
// is read back the way the next request of the same browser would see it.

const password = "correct horse battery staple"

// sessions is *session.Manager as app.Sessions (httpapi has the same).
type sessions struct{ *session.Manager }

func (m sessions) SignInAt(ctx context.Context, userID int64, ip string) error {
	return m.SignInFrom(ctx, userID, session.Origin{IP: ip})
}

func (m sessions) Devices(ctx context.Context, userID int64) ([]app.Device, error) {
	ds, err := m.List(ctx, userID)
	out := make([]app.Device, len(ds))
	for i, d := range ds {
		out[i] = app.Device{Handle: d.Handle, Current: d.Current}
	}
	return out, err
}

type fixture struct {
	db   *postgres.DB
	sm   *session.Manager
	app  *app.Service
	user deal.User
}

// setup returns a fresh database with one user, a session manager over it
// and the service, its sign-ins throttled after accountLimit failures by a
// Redis limiter of its own (0: no limiter).
func setup(t *testing.T, accountLimit int) *fixture {
	t.Helper()
	db := pgtest.NewDB(t)
	hasher := auth.NewHasher(8, 1)
	hash, err := hasher.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.CreateUser(context.Background(), "ana@example.com", "Ana", hash, false)
	if err != nil {
		t.Fatal(err)
	}
	sm := session.NewManager(session.NewPostgresStore(db, time.Hour), config.StorePostgres,
		session.Options{Lifetime: time.Hour, DB: db, Logger: slog.New(slog.DiscardHandler)})
	d := app.Deps{Store: db, Sessions: sessions{sm}, Hasher: hasher, RememberDuration: 24 * time.Hour}
	if accountLimit > 0 {
		rdb := redistest.New(t)
		prefix := "dealctx-test-app-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
		d.Limiter = ratelimit.New(rdb, ratelimit.Options{
			AccountLimit: accountLimit, IPLimit: 100, Window: time.Minute,
			MemberLookupLimit: 10, MemberLookupWindow: time.Minute, KeyPrefix: prefix,
		}, nil)
		t.Cleanup(func() {
			if keys, _ := rdb.Keys(context.Background(), prefix+"*").Result(); len(keys) > 0 {
				rdb.Del(context.Background(), keys...)
			}
		})
	}
	return &fixture{db: db, sm: sm, app: app.New(d), user: u}
}

// request runs fn in the session the cookies carry, as one request of
// that browser, and returns the cookies the browser holds after it.
func (f *fixture) request(t *testing.T, cookies []*http.Cookie, fn func(ctx context.Context)) []*http.Cookie {
	t.Helper()
	h := f.sm.LoadAndSave(func(_ http.ResponseWriter, _ *http.Request, err error) {
		t.Errorf("session: %v", err)
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	r := httptest.NewRequest("POST", "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	got := rec.Result().Cookies()
	if len(got) == 0 {
		return cookies
	}
	return got
}

// signedIn is the user the browser's next request is signed in as.
func (f *fixture) signedIn(t *testing.T, cookies []*http.Cookie) int64 {
	t.Helper()
	var id int64
	f.request(t, cookies, func(ctx context.Context) { id = f.sm.UserID(ctx) })
	return id
}

func actor() deal.Actor { return deal.Actor{IP: "192.0.2.7", RequestID: "test", UserAgent: "app_test"} }

// member is actor() signed in as the fixture's user.
func (f *fixture) member() deal.Actor {
	a := actor()
	a.UserID = f.user.ID
	return a
}

// twoDevices signs the fixture's user in twice (a laptop and a phone) and
// returns the sign-in and each session's cookies.
func (f *fixture) twoDevices(t *testing.T) (in app.SignInInput, laptop, phone []*http.Cookie) {
	t.Helper()
	in = app.SignInInput{Email: "ana@example.com", Password: password, Actor: actor()}
	var err error
	if _, laptop, err = f.signIn(t, nil, in); err != nil {
		t.Fatal(err)
	}
	if _, phone, err = f.signIn(t, nil, in); err != nil {
		t.Fatal(err)
	}
	return in, laptop, phone
}

func (f *fixture) signIn(t *testing.T, cookies []*http.Cookie, in app.SignInInput) (app.SignInResult, []*http.Cookie, error) {
	t.Helper()
	var res app.SignInResult
	var err error
	cookies = f.request(t, cookies, func(ctx context.Context) { res, err = f.app.SignIn(ctx, in) })
	return res, cookies, err
}

func TestSignInWrongPassword(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	res, cookies, err := f.signIn(t, nil, app.SignInInput{Email: "ana@example.com", Password: "not the password", Remember: true, Actor: actor()})
	if deal.ErrorCode(err) != deal.ECREDENTIALS || deal.ErrorMessage(err) != "Email or password is incorrect." {
		t.Fatalf("sign-in: got %v, want ECREDENTIALS \"Email or password is incorrect.\"", err)
	}
	if _, ok := app.RetryAfter(err); ok {
		t.Errorf("a wrong password asks to retry after a while; want only at the limit")
	}
	if res.Remember.Set != nil || res.Remember.Clear {
		t.Errorf("remember-me cookie: got %+v, want untouched", res.Remember)
	}
	if id := f.signedIn(t, cookies); id != 0 {
		t.Errorf("after a wrong password the browser is signed in as %d", id)
	}
	// The same for an unknown email: the same answer.
	_, _, err = f.signIn(t, nil, app.SignInInput{Email: "nobody@example.com", Password: password, Actor: actor()})
	if deal.ErrorMessage(err) != "Email or password is incorrect." {
		t.Errorf("unknown email: got %v, want the wrong password's answer", err)
	}
}

func TestSignInThrottled(t *testing.T) {
	t.Parallel()
	f := setup(t, 2)
	in := app.SignInInput{Email: "ana@example.com", Password: "not the password", Actor: actor()}
	for i := range 2 {
		if _, _, err := f.signIn(t, nil, in); deal.ErrorCode(err) != deal.ECREDENTIALS {
			t.Fatalf("failure %d: got %v, want ECREDENTIALS", i+1, err)
		}
	}
	in.Password = password // even the right one waits
	_, cookies, err := f.signIn(t, nil, in)
	if deal.ErrorCode(err) != deal.ERATELIMITED || deal.ErrorMessage(err) != "Too many failed sign-ins; try again later." {
		t.Fatalf("third attempt: got %v, want ERATELIMITED", err)
	}
	secs, ok := app.RetryAfter(err)
	if !ok || secs < 1 || secs > 60 {
		t.Errorf("retry after: got %d, %v; want 1..60 seconds", secs, ok)
	}
	var ra *app.RetryAfterError
	if !errors.As(err, &ra) || ra.Seconds != secs {
		t.Errorf("error %T is not the *app.RetryAfterError the HTTP layer reads", err)
	}
	if id := f.signedIn(t, cookies); id != 0 {
		t.Errorf("a throttled sign-in signed the browser in as %d", id)
	}
}

func TestSignInRememberReplacesBrowsersToken(t *testing.T) {
	t.Parallel()
	f := setup(t, 5)
	ctx := context.Background()
	// The browser holds a remember-me cookie already (another sign-in's).
	old, err := auth.NewRememberToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateRememberToken(ctx, f.user.ID, old, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	res, cookies, err := f.signIn(t, nil, app.SignInInput{
		Email: "ana@example.com", Password: password, Remember: true, Actor: actor(),
		RememberCookie: old.String(), HasRememberCookie: true,
	})
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if res.User.ID != f.user.ID || res.Deal != nil {
		t.Errorf("result: got user %d deal %v, want user %d and no deal", res.User.ID, res.Deal, f.user.ID)
	}
	if id := f.signedIn(t, cookies); id != f.user.ID {
		t.Errorf("after sign-in the browser is signed in as %d, want %d", id, f.user.ID)
	}
	if !res.Remember.Clear || res.Remember.Set == nil || res.Remember.Set.MaxAge != 24*time.Hour {
		t.Fatalf("remember-me cookie: got %+v, want the old one replaced by a 24h one", res.Remember)
	}
	tok, ok := auth.ParseRememberToken(res.Remember.Set.Value)
	if !ok {
		t.Fatalf("new remember-me cookie %q does not parse", res.Remember.Set.Value)
	}
	if r, err := f.db.UseRememberToken(ctx, tok, time.Minute); err != nil || r.UserID != f.user.ID {
		t.Errorf("new token: got %+v, %v; want it to sign user %d back in", r, err, f.user.ID)
	}
	if r, err := f.db.UseRememberToken(ctx, old, time.Minute); err != nil || r.UserID != 0 {
		t.Errorf("old token: got %+v, %v; want it revoked", r, err)
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	ctx := context.Background()
	res, cookies, err := f.signIn(t, nil, app.SignInInput{Email: "ana@example.com", Password: password, Remember: true, Actor: actor()})
	if err != nil || res.Remember.Set == nil {
		t.Fatalf("sign-in: %v (remember %+v)", err, res.Remember)
	}
	a := f.member()
	var rd app.RememberDecision
	f.request(t, cookies, func(ctx context.Context) { rd, err = f.app.SignOut(ctx, a, res.Remember.Set.Value) })
	if err != nil {
		t.Fatalf("sign-out: %v", err)
	}
	if !rd.Clear || rd.Set != nil {
		t.Errorf("remember-me cookie: got %+v, want it deleted", rd)
	}
	if id := f.signedIn(t, cookies); id != 0 {
		t.Errorf("the signed-out session cookie still signs in as %d", id)
	}
	tok, _ := auth.ParseRememberToken(res.Remember.Set.Value)
	if r, err := f.db.UseRememberToken(ctx, tok, time.Minute); err != nil || r.UserID != 0 {
		t.Errorf("remember token after sign-out: got %+v, %v; want revoked", r, err)
	}
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	t.Parallel()
	f := setup(t, 5)
	in, laptop, phone := f.twoDevices(t)
	a := f.member()
	change := func(current, next string) (err error) {
		f.request(t, laptop, func(ctx context.Context) {
			err = f.app.ChangePassword(ctx, app.ChangePasswordInput{Current: current, New: next, Actor: a})
		})
		return err
	}
	if err := change("not the password", "a-much-longer-password"); deal.ErrorMessage(err) != "The current password is incorrect." {
		t.Fatalf("wrong current password: got %v", err)
	}
	if err := change(password, "short"); deal.ErrorCode(err) != deal.EINVALID {
		t.Fatalf("short new password: got %v, want EINVALID", err)
	}
	if id := f.signedIn(t, phone); id != f.user.ID {
		t.Fatalf("refused changes signed the phone out (as %d)", id)
	}
	if err := change(password, "a-much-longer-password"); err != nil {
		t.Fatalf("change: %v", err)
	}
	if id := f.signedIn(t, phone); id != 0 {
		t.Errorf("after the change the other session is still signed in as %d", id)
	}
	if id := f.signedIn(t, laptop); id != f.user.ID {
		t.Errorf("after the change the changing session is signed in as %d, want %d", id, f.user.ID)
	}
	if _, _, err := f.signIn(t, nil, in); deal.ErrorCode(err) != deal.ECREDENTIALS {
		t.Errorf("old password: got %v, want ECREDENTIALS", err)
	}
	in.Password = "a-much-longer-password"
	if _, _, err := f.signIn(t, nil, in); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestEndSession(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	_, laptop, phone := f.twoDevices(t)
	a := f.member()
	var phoneHandle string
	f.request(t, phone, func(ctx context.Context) { phoneHandle = f.sm.Current(ctx) })
	end := func(cookies []*http.Cookie, handle string) (res app.EndSessionResult, err error) {
		f.request(t, cookies, func(ctx context.Context) { res, err = f.app.EndSession(ctx, a, handle) })
		return res, err
	}
	for _, h := range []string{"", "not-a-handle", "AAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := end(laptop, h); deal.ErrorMessage(err) != "You have no signed-in session with that id." {
			t.Errorf("handle %q: got %v, want not found", h, err)
		}
	}
	res, err := end(laptop, phoneHandle)
	if err != nil || res.Current || res.Remember.Clear {
		t.Fatalf("ending the phone from the laptop: got %+v, %v; want another session ended, cookie kept", res, err)
	}
	if id := f.signedIn(t, phone); id != 0 {
		t.Errorf("the ended session is still signed in as %d", id)
	}
	var own string
	f.request(t, laptop, func(ctx context.Context) { own = f.sm.Current(ctx) })
	res, err = end(laptop, own)
	if err != nil || !res.Current || !res.Remember.Clear {
		t.Fatalf("ending its own session: got %+v, %v; want current, cookie deleted", res, err)
	}
	if id := f.signedIn(t, laptop); id != 0 {
		t.Errorf("the laptop's own ended session is still signed in as %d", id)
	}
}

func TestCreateDeal(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	ctx := context.Background()
	a := f.member()
	for raw, want := range map[string]string{"": "Deal name is required.", "a\x00b": "Deal name must not contain control characters."} {
		if _, err := f.app.CreateDeal(ctx, a, raw); deal.ErrorCode(err) != deal.EINVALID || deal.ErrorMessage(err) != want {
			t.Errorf("name %q: got %v, want EINVALID %q", raw, err, want)
		}
	}
	d, err := f.app.CreateDeal(ctx, a, "  Acme acquisition  ")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if d.Name != "Acme acquisition" || d.Role != deal.RoleOwner {
		t.Errorf("created: got %q as %q, want \"Acme acquisition\" as owner", d.Name, d.Role)
	}
	deals, err := f.db.FindDealsForUser(ctx, f.user.ID)
	if err != nil || len(deals) != 1 || deals[0].ID != d.ID {
		t.Errorf("the user's deals: got %+v, %v; want the new one", deals, err)
	}
	nobody := actor()
	if _, err := f.app.CreateDeal(ctx, nobody, "Orphan"); deal.ErrorCode(err) != deal.EUNAUTHORIZED {
		t.Errorf("signed out: got %v, want EUNAUTHORIZED", err)
	}
}

// TestSignInRestoresTheLastDeal: with auto-restore on, a sign-in in a new
// browser brings back the deal selected last, through the Restorer and
// the access check's hooks it is given.
func TestSignInRestoresTheLastDeal(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	ctx := context.Background()
	a := f.member()
	first, err := f.app.CreateDeal(ctx, a, "First")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.CreateDeal(ctx, a, "Second"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.SelectDeal(ctx, a, first.ID, deal.ActionDealSelected); err != nil {
		t.Fatal(err)
	}
	type recorded struct {
		userID, dealID int64
		epoch          uint64
	}
	var records []recorded
	var outcomes []string
	rs := &app.Restorer[postgres.Gens]{
		Store: f.db, Sessions: f.sm, Logger: slog.New(slog.DiscardHandler),
		Outcome: func(o string) { outcomes = append(outcomes, o) }, Wake: func() {},
		Epoch: func() uint64 { return 7 },
		Record: func(_ context.Context, userID int64, d deal.Deal, _ postgres.Gens, epoch uint64) {
			records = append(records, recorded{userID, d.ID, epoch})
		},
	}
	svc := app.New(app.Deps{
		Store: f.db, Sessions: sessions{f.sm}, Hasher: auth.NewHasher(8, 1), RememberDuration: time.Hour,
		AutoRestoreDeal: true, Restore: rs.Restore,
	})
	var res app.SignInResult
	cookies := f.request(t, nil, func(ctx context.Context) {
		res, err = svc.SignIn(ctx, app.SignInInput{Email: "ana@example.com", Password: password, Actor: actor()})
	})
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if res.Deal == nil || res.Deal.ID != first.ID {
		t.Fatalf("restored: got %+v, want deal %d", res.Deal, first.ID)
	}
	var dealID, flashed int64
	f.request(t, cookies, func(ctx context.Context) { dealID, flashed = f.sm.DealID(ctx), f.sm.PopRestored(ctx) })
	if dealID != first.ID || flashed != first.ID {
		t.Errorf("session: deal %d, restored flag %d; want %d for both", dealID, flashed, first.ID)
	}
	if len(records) != 1 || records[0] != (recorded{f.user.ID, first.ID, 7}) {
		t.Errorf("access decisions recorded: got %+v, want one for deal %d at epoch 7", records, first.ID)
	}
	if len(outcomes) != 1 || outcomes[0] != deal.RestoreRestored {
		t.Errorf("outcomes: got %v, want [restored]", outcomes)
	}
}
