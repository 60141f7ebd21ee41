package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
)

// A checked decision survives the codec, belongs to the deal it was made
// on, and is dropped by a selection without one and by a new sign-in.
func TestCheckedDecision(t *testing.T) {
	t.Parallel()
	m := NewManager(NewPostgresStore(pgtest.NewDB(t), time.Hour), ModePostgres, Options{Lifetime: time.Hour})
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	want := Checked{
		Deal:  deal.Deal{ID: 7, Name: "Atlas", Role: deal.RoleMember, CreatedAt: created},
		Gens:  postgres.Gens{User: 3, Deal: 9, Global: 1},
		Epoch: 42,
		At:    time.Now(),
	}
	var token string
	m.LoadAndSave(func(_ http.ResponseWriter, _ *http.Request, err error) { t.Fatal(err) })(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if err := m.SignIn(ctx, 5); err != nil {
				t.Fatal(err)
			}
			m.SetChecked(ctx, want)
			token = m.token(ctx)
		})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

	ctx, err := m.load(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := m.Checked(ctx)
	if !ok || got.Deal.ID != 7 || got.Deal.Name != "Atlas" || got.Deal.Role != deal.RoleMember ||
		!got.Deal.CreatedAt.Equal(created) || got.Gens != want.Gens || got.Epoch != 42 || !got.At.Equal(want.At) {
		t.Fatalf("after a round trip: got (%+v, %v), want %+v", got, ok, want)
	}
	if m.DealID(ctx) != 7 {
		t.Fatalf("current deal: got %d, want 7", m.DealID(ctx))
	}
	m.SetDeal(ctx, 7)
	if _, ok := m.Checked(ctx); ok {
		t.Fatalf("after SetDeal without a check: got a decision, want none")
	}
	m.SetChecked(ctx, want)
	if err := m.SignIn(ctx, 6); err != nil {
		t.Fatal(err)
	}
	m.SetDeal(ctx, 7)
	if _, ok := m.Checked(ctx); ok {
		t.Fatalf("after another sign-in: got the previous user's decision, want none")
	}
}

func TestDecodeCheckedRefusesMalformedValues(t *testing.T) {
	t.Parallel()
	good := encodeChecked(Checked{Deal: deal.Deal{ID: 1, Name: "n", Role: "owner"}, At: time.Unix(1, 0)})
	for name, s := range map[string]string{"empty": "", "cut short": good[:3], "role too long": good[:7] + "\x7f"} {
		if _, ok := decodeChecked(s); ok {
			t.Errorf("%s: got ok, want refused", name)
		}
	}
	if c, ok := decodeChecked(good); !ok || c.Deal.Name != "n" || c.Deal.Role != "owner" {
		t.Fatalf("good value: got (%+v, %v)", c, ok)
	}
}
