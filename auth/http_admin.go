package auth

import (
	"context"
	"net/http"
	"strconv"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

// Paging limits for GET /api/v1/admin/users.
const (
	defaultPageSize = 100
	maxPageSize     = 500
)

func (s *Service) handleListUsers(w http.ResponseWriter, r *http.Request) {
	if _, err := RequireAdmin(r); err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := defaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			s.fail(w, r, api.BadRequest("invalid_limit", "limit must be a number from 1 to 500"))
			return
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" && !validID(after) {
		s.fail(w, r, api.BadRequest("invalid_after", "after must be an account id"))
		return
	}
	list, err := s.Accounts(r.Context(), after, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp := map[string]any{"users": list}
	if len(list) == limit {
		resp["next_after"] = list[len(list)-1].ID
	}
	api.WriteJSON(w, http.StatusOK, resp)
}

// adminAction serves the admin endpoints that take no body.
func (s *Service) adminAction(op func(context.Context, policy.Actor, string) (Account, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		admin, err := RequireAdmin(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		acct, err := op(r.Context(), admin, r.PathValue("id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"account": acct})
	}
}

type changeRoleRequest struct {
	Role string `json:"role"`
}

func (s *Service) handleChangeRole(w http.ResponseWriter, r *http.Request) {
	admin, err := RequireAdmin(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req changeRoleRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	role, err := policy.ParseRole(req.Role)
	if err != nil {
		s.fail(w, r, api.BadRequest("invalid_role", err.Error()))
		return
	}
	acct, err := s.ChangeRole(r.Context(), admin, r.PathValue("id"), role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"account": acct})
}

func (s *Service) handleIssueReset(w http.ResponseWriter, r *http.Request) {
	admin, err := RequireAdmin(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	reset, err := s.IssuePasswordReset(r.Context(), admin, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, reset)
}
