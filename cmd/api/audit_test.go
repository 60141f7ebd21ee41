package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/dealctx/dealctx/internal/postgres"
)

// auditEvent is an event as GET /api/audit returns it.
type auditEvent struct {
	ID           int64           `json:"id"`
	OccurredAt   string          `json:"occurred_at"`
	Action       string          `json:"action"`
	ActorUserID  *int64          `json:"actor_user_id"`
	DealID       *int64          `json:"deal_id"`
	TargetUserID *int64          `json:"target_user_id"`
	RequestID    string          `json:"request_id"`
	IP           string          `json:"ip"`
	UserAgent    string          `json:"user_agent"`
	Details      json.RawMessage `json:"details"`
}

type auditPage struct {
	Events     []auditEvent `json:"events"`
	NextBefore *int64       `json:"next_before"`
}

// moveAudit does the worker's part: it moves committed events into audit_log.
func moveAuditEnv(t *testing.T, env map[string]string) {
	t.Helper()
	db, err := postgres.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for {
		n, err := db.MoveAuditEvents(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (c *client) audit(query string) (int, auditPage, string) {
	c.t.Helper()
	r := c.do("GET", "/api/audit"+query, nil)
	var p auditPage
	if r.Status == http.StatusOK {
		r.JSON(c.t, &p)
	}
	return r.Status, p, r.ErrorCode()
}

func actions(p auditPage) map[string]int {
	m := map[string]int{}
	for _, e := range p.Events {
		m[e.Action]++
	}
	return m
}

func TestAuditListAccessFiltersAndPages(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a := startAPI(t, env)
	createUser(t, env, "admin@example.com", true)
	ownerID := createUser(t, env, "owner@example.com", false)
	memberID := createUser(t, env, "member@example.com", false)
	createUser(t, env, "other@example.com", false)

	admin, owner, member, other := newClient(t, a), newClient(t, a), newClient(t, a), newClient(t, a)
	admin.login("admin@example.com", false)
	owner.login("owner@example.com", false)
	member.login("member@example.com", false)
	other.login("other@example.com", false)

	kept := owner.createDeal("kept")
	gone := owner.createDeal("gone")
	elsewhere := other.createDeal("elsewhere")
	if r := owner.do("POST", fmt.Sprintf("/api/deals/%d/members", kept), map[string]string{"email": "member@example.com", "role": "member"}); r.Status != http.StatusCreated {
		t.Fatalf("add member: got %d %s, want 201", r.Status, r.Body)
	}
	for range 3 {
		if r := owner.do("POST", fmt.Sprintf("/api/deals/%d/select", kept), nil); r.Status != http.StatusOK {
			t.Fatalf("select: got %d, want 200", r.Status)
		}
	}
	if r := member.do("POST", fmt.Sprintf("/api/deals/%d/select", kept), nil); r.Status != http.StatusOK {
		t.Fatalf("member select: got %d, want 200", r.Status)
	}
	if r := owner.do("DELETE", fmt.Sprintf("/api/deals/%d", gone), nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: got %d, want 204", r.Status)
	}
	moveAuditEnv(t, env)

	t.Run("admin sees every event", func(t *testing.T) {
		status, p, _ := admin.audit("?limit=500")
		if status != http.StatusOK {
			t.Fatalf("status: got %d, want 200", status)
		}
		got := actions(p)
		if got["auth.login"] != 4 || got["deal.created"] != 3 || got["deal.selected"] != 4 || got["member.added"] != 1 || got["deal.deleted"] != 1 {
			t.Errorf("actions: got %v, want 4 logins, 3 creations, 4 selections, 1 member added, 1 deletion", got)
		}
		if p.NextBefore != nil {
			t.Errorf("next_before on the only page: got %d, want null", *p.NextBefore)
		}
	})

	t.Run("owner sees the events of own deals only, deleted ones included", func(t *testing.T) {
		_, p, _ := owner.audit("")
		for _, e := range p.Events {
			if e.DealID == nil || (*e.DealID != kept && *e.DealID != gone) {
				t.Errorf("owner saw %s on deal %v, want only deals %d and %d", e.Action, e.DealID, kept, gone)
			}
		}
		if got := actions(p); got["deal.selected"] != 4 || got["deal.deleted"] != 1 {
			t.Errorf("actions: got %v, want the 4 selections (the member's too) and the deletion", got)
		}
		status, p, _ := owner.audit(fmt.Sprintf("?deal_id=%d", gone))
		if status != http.StatusOK || actions(p)["deal.deleted"] != 1 {
			t.Errorf("deleted deal's log: got %d %v, want 200 with its deal.deleted", status, actions(p))
		}
	})

	t.Run("events carry the contract's fields", func(t *testing.T) {
		_, p, _ := owner.audit("?action=member.added")
		if len(p.Events) != 1 {
			t.Fatalf("member.added events: got %d, want 1", len(p.Events))
		}
		e := p.Events[0]
		if e.ID == 0 || e.OccurredAt == "" || e.ActorUserID == nil || *e.ActorUserID != ownerID ||
			e.DealID == nil || *e.DealID != kept || e.TargetUserID == nil || *e.TargetUserID != memberID ||
			e.RequestID == "" || e.IP == "" || e.UserAgent == "" || len(e.Details) == 0 {
			t.Errorf("event: got %+v, want every field set (actor owner, deal kept, target member)", e)
		}
	})

	t.Run("filters", func(t *testing.T) {
		_, p, _ := admin.audit(fmt.Sprintf("?actor_id=%d&action=deal.selected", memberID))
		if len(p.Events) != 1 || p.Events[0].Action != "deal.selected" || *p.Events[0].ActorUserID != memberID {
			t.Errorf("member's selections: got %+v, want exactly 1", p.Events)
		}
		_, p, _ = admin.audit(fmt.Sprintf("?deal_id=%d", elsewhere))
		if got := actions(p); len(p.Events) != 1 || got["deal.created"] != 1 {
			t.Errorf("events of deal elsewhere: got %v, want its creation only", got)
		}
	})

	t.Run("pages follow next_before without gaps or repeats", func(t *testing.T) {
		_, all, _ := admin.audit("?limit=500")
		var got []int64
		before := ""
		for pages := 0; ; pages++ {
			if pages > len(all.Events) {
				t.Fatal("pagination does not end")
			}
			_, p, _ := admin.audit("?limit=4" + before)
			for _, e := range p.Events {
				got = append(got, e.ID)
			}
			if p.NextBefore == nil {
				break
			}
			if len(p.Events) != 4 {
				t.Errorf("a page before the last: got %d events, want 4", len(p.Events))
			}
			before = fmt.Sprintf("&before=%d", *p.NextBefore)
		}
		if len(got) != len(all.Events) {
			t.Fatalf("events over all pages: got %d, want %d", len(got), len(all.Events))
		}
		for i, e := range all.Events {
			if got[i] != e.ID {
				t.Fatalf("event %d: got id %d, want %d (newest first, no repeats)", i, got[i], e.ID)
			}
		}
		// A page that ends exactly at the last event is the last page.
		_, p, _ := admin.audit(fmt.Sprintf("?limit=%d", len(all.Events)))
		if p.NextBefore != nil {
			t.Errorf("next_before when the page holds every event: got %d, want null", *p.NextBefore)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name   string
			c      *client
			query  string
			status int
			code   string
		}{
			{"member who owns nothing", member, "", 403, "forbidden"},
			{"owner asking for another's deal", owner, fmt.Sprintf("?deal_id=%d", elsewhere), 403, "forbidden"},
			{"owner asking for a deal that does not exist", owner, "?deal_id=999999", 403, "forbidden"},
			{"limit zero", admin, "?limit=0", 400, "invalid_request"},
			{"limit too large", admin, "?limit=501", 400, "invalid_request"},
			{"limit not a number", admin, "?limit=ten", 400, "invalid_request"},
			{"negative before", admin, "?before=-3", 400, "invalid_request"},
			{"deal id not a number", admin, "?deal_id=abc", 400, "invalid_request"},
			{"unknown action", admin, "?action=deal.exploded", 400, "invalid_request"},
			{"signed out", newClient(t, a), "", 401, "unauthenticated"},
		}
		for _, tc := range tests {
			status, _, code := tc.c.audit(tc.query)
			if status != tc.status || code != tc.code {
				t.Errorf("%s: got %d %q, want %d %q", tc.name, status, code, tc.status, tc.code)
			}
		}
	})
}
