package api

import (
	"context"
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/web"
)

type dealResponse struct {
	Deal deal.Deal `json:"deal"`
}

type currentDealResponse struct {
	CurrentDeal deal.Deal `json:"current_deal"`
}

// AppendJSON makes the hot path's answer a web.JSONAppender.
func (r currentDealResponse) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"current_deal":`...)
	b, ok := web.AppendDealJSON(b, r.CurrentDeal)
	return append(b, '}'), ok
}

// DealList lists the live deals the user may access.
func (s *Handlers) DealList() http.HandlerFunc {
	type response struct {
		Deals         []deal.Deal `json:"deals"`
		CurrentDealID *int64      `json:"current_deal_id"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		deals, err := s.DB.FindDealsForUser(ctx, s.Sessions.UserID(ctx))
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		resp := response{Deals: deals}
		if id := s.Sessions.DealID(ctx); id != 0 {
			// Only a deal the user can still see counts as current.
			for _, d := range deals {
				if d.ID == id {
					resp.CurrentDealID = &id
					break
				}
			}
			if resp.CurrentDealID == nil {
				s.Sessions.ClearDeal(ctx)
			}
		}
		web.WriteJSON(w, http.StatusOK, resp)
	}
}

// DealCreate creates a deal owned by the user.
func (s *Handlers) DealCreate() http.HandlerFunc {
	type request struct {
		Name string `json:"name"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := web.ReadJSON[request](s.Server, w, r)
		if !ok {
			return
		}
		d, err := s.CreateDeal(r, req.Name)
		s.Reply(w, r, http.StatusCreated, dealResponse{Deal: d}, err)
	}
}

// DealGet returns one deal the user may access.
func (s *Handlers) DealGet() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.ReadID(w, r, "id")
		if !ok {
			return
		}
		d, err := s.DB.FindDealByID(r.Context(), s.Sessions.UserID(r.Context()), id)
		s.Reply(w, r, http.StatusOK, dealResponse{Deal: d}, err)
	}
}

// DealDelete soft-deletes a deal (owner or admin).
func (s *Handlers) DealDelete() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.ReadID(w, r, "id")
		if !ok {
			return
		}
		if err := s.DeleteDeal(r, id); err != nil {
			s.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// DealSelect checks access and writes the database and the session's
// record in one transaction: a session never points at a deal the database
// did not accept.
func (s *Handlers) DealSelect() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.ReadID(w, r, "id")
		if !ok {
			return
		}
		// One transaction: the access decision, last_deal_id, the audit
		// event and the session's record commit together.
		var d deal.Deal
		epoch := s.CopiesEpoch()
		err := s.Sessions.InTx(r.Context(), func(ctx context.Context) error {
			var err error
			var g postgres.Gens
			a := s.Actor(r)
			if d, g, err = s.DB.SelectDealAt(ctx, a, id, deal.ActionDealSelected); err != nil {
				return err
			}
			// Always a session change, so a due last-seen write rides in
			// this transaction too (one commit per selection).
			s.Sessions.SetDeal(ctx, d.ID)
			s.RecordCheck(ctx, a.UserID, d, g, epoch)
			return nil
		})
		if err != nil && !web.IsDomainError(err) {
			// The transaction or the session record failed, not the request.
			err = web.WithCause(web.ErrSessions, err)
		}
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		s.Metrics.Selections.Inc()
		s.AuditWake()
		web.WriteJSON(w, http.StatusOK, currentDealResponse{CurrentDeal: d})
	}
}

// DealCurrent returns the session's deal, checking access again: a
// deal revoked or deleted under the session is 404 and leaves the session.
func (s *Handlers) DealCurrent() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, err := s.CurrentDeal(r.Context())
		s.Reply(w, r, http.StatusOK, currentDealResponse{CurrentDeal: d}, err)
	}
}

// DealCurrentClear clears the session's deal and users.last_deal_id.
func (s *Handlers) DealCurrentClear() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := s.DB.ClearCurrentDeal(ctx, s.Actor(r), s.Sessions.DealID(ctx)); err != nil {
			s.WriteError(w, r, err)
			return
		}
		s.Sessions.ClearDeal(ctx)
		s.AuditWake()
		w.WriteHeader(http.StatusNoContent)
	}
}
