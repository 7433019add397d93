package messaging

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

// Person is the public part of an account that conversation members may
// see: never the email address or any other contact detail.
type Person struct {
	DisplayName string
	Role        policy.Role
}

// Names is the port to the accounts: the display name and role of each
// user id. Implementations leave out ids that name no account and must be
// safe for concurrent use.
type Names interface {
	DisplayNames(ctx context.Context, ids []string) (map[string]Person, error)
}

// memberView is one member in the response of GET
// /api/v1/conversations/{id}/members. Role and DisplayName are empty for
// a member whose account no longer exists.
type memberView struct {
	UserID      string      `json:"user_id"`
	Role        policy.Role `json:"role,omitempty"`
	DisplayName string      `json:"display_name"`
}

type membersView struct {
	Members []memberView `json:"members"`
}

// handleMembers returns the members of a conversation with their display
// names and roles. It needs the same conversation.read permission as
// reading the messages, and it records no audit event because names and
// roles are not health information.
func (s *Service) handleMembers(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	conv, err := s.conversation(ctx, actor, policy.ActionConversationRead, r.PathValue("id"))
	if err != nil {
		return err
	}
	ids, err := s.dir.ConversationMembers(ctx, conv)
	if errors.Is(err, ErrConversationNotFound) {
		return api.NotFound()
	}
	if err != nil {
		return err
	}
	people, err := s.names.DisplayNames(ctx, ids)
	if err != nil {
		return fmt.Errorf("display names of conversation %s: %w", conv.ID, err)
	}
	out := membersView{Members: make([]memberView, 0, len(ids))}
	for _, id := range ids {
		p := people[id]
		out.Members = append(out.Members, memberView{UserID: id, Role: p.Role, DisplayName: p.DisplayName})
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}
