package httpapi

import (
	"net/http"
	"strconv"

	"github.com/dealctx/dealctx/internal/deal"
)

// handleAuditList returns audit events, newest first: admins see all, owners
// the events of the deals they own, others are refused.
func (s *server) handleAuditList() http.HandlerFunc {
	type response struct {
		Events     []deal.AuditEvent `json:"events"`
		NextBefore *int64            `json:"next_before"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		f, err := auditFilter(r)
		if err != nil {
			s.errs.write(w, r, err)
			return
		}
		u, err := s.DB.FindUserByID(ctx, s.Sessions.UserID(ctx))
		if err != nil {
			s.errs.write(w, r, err)
			return
		}
		if !u.IsAdmin {
			if f.DealID != 0 {
				d, err := s.DB.FindDealByID(ctx, u.ID, f.DealID)
				if err != nil && deal.ErrorCode(err) != deal.ENOTFOUND {
					s.errs.write(w, r, err)
					return
				}
				if err != nil || d.Role != deal.RoleOwner {
					s.errs.write(w, r, deal.Errorf(deal.EFORBIDDEN, "Only the deal's owner or an admin may read its audit log."))
					return
				}
			} else {
				owns, err := s.DB.OwnsAnyDeal(ctx, u.ID)
				if err != nil {
					s.errs.write(w, r, err)
					return
				}
				if !owns {
					s.errs.write(w, r, deal.Errorf(deal.EFORBIDDEN, "Only deal owners and admins may read the audit log."))
					return
				}
			}
			f.OwnerID = u.ID
		}
		events, err := s.DB.FindAuditEvents(ctx, f)
		if err != nil {
			s.errs.write(w, r, err)
			return
		}
		resp := response{Events: events}
		if len(events) == f.Limit {
			last := events[len(events)-1].ID
			resp.NextBefore = &last
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

func auditFilter(r *http.Request) (deal.AuditFilter, error) {
	var f deal.AuditFilter
	var err error
	if f.DealID, err = queryID(r, "deal_id"); err != nil {
		return f, err
	}
	if f.ActorID, err = queryID(r, "actor_id"); err != nil {
		return f, err
	}
	if f.Before, err = queryID(r, "before"); err != nil {
		return f, err
	}
	f.Action = r.URL.Query().Get("action")
	if len(f.Action) > 64 {
		return f, deal.Errorf(deal.EINVALID, "action is too long.")
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
