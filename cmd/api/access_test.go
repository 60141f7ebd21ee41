package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/redisclient"
)

// sameBrowser returns a client of api b holding c's session cookie: the
// same browser, its next request served by another process.
func sameBrowser(t *testing.T, c *client, b *api) *client {
	t.Helper()
	o := newClient(t, b)
	o.setCookies(map[string]string{"session": c.cookie("session")})
	return o
}

// denied reports whether GET /api/deals/current no longer gives the deal.
func denied(r response) bool {
	return r.Status == http.StatusNotFound || r.Status == http.StatusConflict || r.Status == http.StatusUnauthorized
}

// `api access reset` after a hand edit that bypassed the triggers: the next
// request of that user, on that deal, or of everyone, on either api
// process, re-checks access; the command also writes the Redis copies.
func TestAccessResetCommands(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a, b := startAPI(t, env), startAPI(t, env)
	createUser(t, env, "owner@example.com", false)
	createUser(t, env, "member@example.com", false)
	owner := newClient(t, a)
	owner.login("owner@example.com", false)
	dealIDs := map[string]int64{}
	for _, flagSet := range []string{"deal", "email", "all"} {
		id := owner.createDeal("Deal " + flagSet)
		dealIDs[flagSet] = id
		if r := owner.do("POST", "/api/deals/"+itoa(id)+"/members", map[string]string{"email": "member@example.com", "role": "member"}); r.Status != http.StatusCreated {
			t.Fatalf("add member: got %d %s", r.Status, r.Body)
		}
	}
	rdb, err := redisclient.New(env["REDIS_URL"], false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	for _, tc := range []struct {
		flag string
		args []string
		want string
	}{
		{"deal", []string{"--deal", ""}, `"deal_id":`},
		{"email", []string{"--email", "MEMBER@example.com"}, `"user_id":`},
		{"all", []string{"--all"}, `{"all":true}`},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			id := dealIDs[tc.flag]
			m := newClient(t, a)
			m.login("member@example.com", false)
			if r := m.do("POST", "/api/deals/"+itoa(id)+"/select", nil); r.Status != http.StatusOK {
				t.Fatalf("select: got %d %s", r.Status, r.Body)
			}
			mb := sameBrowser(t, m, b)
			if r := mb.do("GET", "/api/deals/current", nil); r.Status != http.StatusOK {
				t.Fatalf("current on the other process: got %d %s", r.Status, r.Body)
			}
			// An operator's edit that no trigger sees.
			sqlExec(t, env, `SET session_replication_role = replica; DELETE FROM deal_members WHERE deal_id = `+itoa(id)+
				` AND user_id = (SELECT id FROM users WHERE email = 'member@example.com'); SET session_replication_role = DEFAULT`)
			args := append([]string{"access", "reset"}, tc.args...)
			if tc.flag == "deal" {
				args[len(args)-1] = itoa(id)
			}
			if out := command(t, env, "", args...); !strings.Contains(out, tc.want) {
				t.Fatalf("api %s: got %q, want %s", strings.Join(args, " "), out, tc.want)
			}
			for _, c := range []*client{mb, m} {
				if r := c.do("GET", "/api/deals/current", nil); !denied(r) {
					t.Fatalf("after the reset: got %d %s, want 404, 409 or 401", r.Status, r.Body)
				}
			}
			// The command wrote the new generation to Redis itself.
			keys, err := rdb.Keys(context.Background(), env["REDIS_KEY_PREFIX"]+"{access}:gen:*").Result()
			if err != nil || len(keys) == 0 {
				t.Fatalf("redis copies: got %v (%v), want the reset's generation", keys, err)
			}
		})
	}
}

func TestAccessResetRefusesBadFlags(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	for _, args := range [][]string{
		{"access", "reset"},
		{"access", "reset", "--all", "--deal", "3"},
		{"access", "reset", "--deal", "0"},
		{"access", "reset", "--deal", "x"},
		{"access", "reset", "--email", "nobody@example.com"},
		{"access", "reset", "--deal", "999999"},
		{"access", "frob"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("api %s: got %v, want one clear line", strings.Join(args, " "), err)
		}
	}
}

// `api user demote` takes effect on the demoted admin's next request, on
// either process; `promote` gives admin access back.
func TestUserPromoteAndDemote(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a, b := startAPI(t, env), startAPI(t, env)
	createUser(t, env, "owner@example.com", false)
	createUser(t, env, "boss@example.com", false)
	owner := newClient(t, a)
	owner.login("owner@example.com", false)
	id := owner.createDeal("Atlas")
	var res struct{ ID int64 }
	if err := json.Unmarshal([]byte(command(t, env, "", "user", "promote", "--email", "boss@example.com")), &res); err != nil || res.ID == 0 {
		t.Fatalf("promote: bad output: %v", err)
	}
	boss := newClient(t, a)
	boss.login("boss@example.com", false)
	if r := boss.do("POST", "/api/deals/"+itoa(id)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("admin selects a deal: got %d %s, want 200", r.Status, r.Body)
	}
	bossB := sameBrowser(t, boss, b)
	if r := bossB.do("GET", "/api/deals/current", nil); r.Status != http.StatusOK {
		t.Fatalf("current on the other process: got %d %s", r.Status, r.Body)
	}
	command(t, env, "", "user", "demote", "--email", "boss@example.com")
	for _, c := range []*client{bossB, boss} {
		if r := c.do("GET", "/api/deals/current", nil); !denied(r) {
			t.Fatalf("after demote: got %d %s, want 404, 409 or 401", r.Status, r.Body)
		}
	}
}

// Every way access ends reaches the next request on either api process
// (issue #24): the deal is selected on one process and read on the other
// before the revocation, then refused by both right after it.
func TestRevocationsReachEitherProcess(t *testing.T) {
	t.Parallel()
	cases := map[string]func(t *testing.T, env map[string]string, a *api, dealID, memberID int64, member *client){
		"member removed": func(t *testing.T, env map[string]string, a *api, dealID, memberID int64, _ *client) {
			o := newClient(t, a)
			o.login("owner@example.com", false)
			if r := o.do("DELETE", "/api/deals/"+itoa(dealID)+"/members/"+itoa(memberID), nil); r.Status != http.StatusNoContent {
				t.Fatalf("remove member: got %d %s", r.Status, r.Body)
			}
		},
		"deal deleted": func(t *testing.T, env map[string]string, a *api, dealID, _ int64, _ *client) {
			o := newClient(t, a)
			o.login("owner@example.com", false)
			if r := o.do("DELETE", "/api/deals/"+itoa(dealID), nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete deal: got %d %s", r.Status, r.Body)
			}
		},
		"user disabled": func(t *testing.T, env map[string]string, _ *api, _, _ int64, _ *client) {
			command(t, env, "", "user", "disable", "--email", "member@example.com")
		},
		"password set by the operator": func(t *testing.T, env map[string]string, _ *api, _, _ int64, _ *client) {
			command(t, env, "", "user", "set-password", "--email", "member@example.com", "--password", "another long password")
		},
		"password changed on another device": func(t *testing.T, env map[string]string, a *api, _, _ int64, _ *client) {
			other := newClient(t, a)
			other.login("member@example.com", false)
			if r := other.do("POST", "/api/me/password", map[string]string{
				"current_password": "password-member@example.com", "new_password": "another long password",
			}); r.Status != http.StatusNoContent {
				t.Fatalf("change password: got %d %s", r.Status, r.Body)
			}
		},
		"signed out from another device": func(t *testing.T, env map[string]string, a *api, _, _ int64, member *client) {
			other := newClient(t, a)
			other.login("member@example.com", false)
			id := member.currentID()
			if r := other.do("DELETE", "/api/me/sessions/"+id, nil); r.Status != http.StatusNoContent {
				t.Fatalf("sign out that device: got %d %s", r.Status, r.Body)
			}
		},
	}
	for name, revoke := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			a, b := startAPI(t, env), startAPI(t, env)
			createUser(t, env, "owner@example.com", false)
			memberID := createUser(t, env, "member@example.com", false)
			owner := newClient(t, a)
			owner.login("owner@example.com", false)
			dealID := owner.createDeal("Atlas")
			if r := owner.do("POST", "/api/deals/"+itoa(dealID)+"/members", map[string]string{"email": "member@example.com", "role": "member"}); r.Status != http.StatusCreated {
				t.Fatalf("add member: got %d %s", r.Status, r.Body)
			}
			m := newClient(t, a)
			m.login("member@example.com", false)
			if r := m.do("POST", "/api/deals/"+itoa(dealID)+"/select", nil); r.Status != http.StatusOK {
				t.Fatalf("select: got %d %s", r.Status, r.Body)
			}
			mb := sameBrowser(t, m, b)
			for _, c := range []*client{mb, m} {
				if r := c.do("GET", "/api/deals/current", nil); r.Status != http.StatusOK {
					t.Fatalf("before: got %d %s, want 200", r.Status, r.Body)
				}
			}
			revoke(t, env, a, dealID, memberID, m)
			for _, c := range []*client{mb, m} {
				if r := c.do("GET", "/api/deals/current", nil); !denied(r) {
					t.Fatalf("after: got %d %s, want 404, 409 or 401", r.Status, r.Body)
				}
			}
		})
	}
}

// A role changed by hand (the trigger bumps the deal) shows on the next
// request of either process.
func TestARoleChangeShowsOnEitherProcess(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a, b := startAPI(t, env), startAPI(t, env)
	createUser(t, env, "owner@example.com", false)
	memberID := createUser(t, env, "member@example.com", false)
	owner := newClient(t, a)
	owner.login("owner@example.com", false)
	dealID := owner.createDeal("Atlas")
	if r := owner.do("POST", "/api/deals/"+itoa(dealID)+"/members", map[string]string{"email": "member@example.com", "role": "member"}); r.Status != http.StatusCreated {
		t.Fatalf("add member: got %d %s", r.Status, r.Body)
	}
	m := newClient(t, a)
	m.login("member@example.com", false)
	if r := m.do("POST", "/api/deals/"+itoa(dealID)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d %s", r.Status, r.Body)
	}
	mb := sameBrowser(t, m, b)
	role := func(c *client) string {
		r := c.do("GET", "/api/deals/current", nil)
		var out struct {
			CurrentDeal struct{ Role string } `json:"current_deal"`
		}
		r.JSON(t, &out)
		return out.CurrentDeal.Role
	}
	if got := role(mb); got != "member" {
		t.Fatalf("before: role %q, want member", got)
	}
	sqlExec(t, env, `UPDATE deal_members SET role = 'owner' WHERE deal_id = $1 AND user_id = $2`, dealID, memberID)
	// The hand edit's bump reaches Redis through the processes' relay.
	command(t, env, "", "access", "reset", "--deal", itoa(dealID))
	for _, c := range []*client{mb, m} {
		if got := role(c); got != "owner" {
			t.Fatalf("after the role change: role %q, want owner", got)
		}
	}
}
