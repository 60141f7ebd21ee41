package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
)

// AuditList returns audit_log events, newest first, a page at a time
// (next_before is the before of the next page, null on the last): admins see
// all, owners the events of the deals they own (deleted ones included),
// others are refused. A deal_id the user does not own is refused alike
// whether it exists or not.
func (s *Handlers) AuditList() http.HandlerFunc {
	type response struct {
		Events     []deal.AuditEvent `json:"events"`
		NextBefore *int64            `json:"next_before"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		f, err := auditFilter(r)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		// One row more than asked says whether another page exists.
		limit := f.Limit
		f.Limit++
		events, err := s.DB.FindAuditEventsFor(ctx, s.Sessions.UserID(ctx), f)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		resp := response{Events: events}
		if len(events) > limit {
			resp.Events = events[:limit]
			last := resp.Events[limit-1].ID
			resp.NextBefore = &last
		}
		web.WriteJSON(w, http.StatusOK, resp)
	}
}

func auditFilter(r *http.Request) (deal.AuditFilter, error) {
	var f deal.AuditFilter
	var err error
	if f.DealID, err = web.QueryID(r, "deal_id"); err != nil {
		return f, err
	}
	if f.ActorID, err = web.QueryID(r, "actor_id"); err != nil {
		return f, err
	}
	if f.Before, err = web.QueryID(r, "before"); err != nil {
		return f, err
	}
	f.Action = r.URL.Query().Get("action")
	if f.Action != "" && !slices.Contains(deal.AuditActions, f.Action) {
		return f, deal.Errorf(deal.EINVALID, "action must be one of %s.", strings.Join(deal.AuditActions, ", "))
	}
	f.Limit = 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return f, deal.Errorf(deal.EINVALID, "limit must be a whole number from 1 to 500.")
		}
		f.Limit = n
	}
	return f, nil
}
