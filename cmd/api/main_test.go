package main

import (
	"net/http"
	"testing"
)

func TestLoginSelectAndRestoreInANewBrowser(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "alice@example.com", false)
	a := startAPI(t, env)

	first := newClient(t, a)
	first.login("alice@example.com", false)
	first.createDeal("Other")
	id := first.createDeal("Atlas")
	if r := first.do("POST", "/api/deals/"+itoa(id)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d %s, want 200", r.Status, r.Body)
	}

	// A new browser: no cookies. Signing in brings the deal back.
	second := newClient(t, a)
	var login struct {
		CurrentDeal *struct{ ID int64 } `json:"current_deal"`
	}
	second.login("alice@example.com", false).JSON(t, &login)
	if login.CurrentDeal == nil || login.CurrentDeal.ID != id {
		t.Fatalf("login current_deal: got %+v, want deal %d", login.CurrentDeal, id)
	}
	r := second.do("GET", "/api/deals/current", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("current: got %d %s, want 200", r.Status, r.Body)
	}
}
