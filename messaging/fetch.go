package messaging

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// pageView is the response body of GET /api/v1/conversations/{id}/messages.
type pageView struct {
	Messages []messageView `json:"messages"`
	// NextCursor is the after value of the next request.
	NextCursor uint64 `json:"next_cursor"`
	// HasMore is true when messages after NextCursor may exist.
	HasMore bool `json:"has_more"`
}

func (s *Service) handleFetch(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	dev, err := s.callerDevice(r, actor)
	if err != nil {
		return err
	}
	conv, err := s.conversation(ctx, actor, policy.ActionConversationRead, r.PathValue("id"))
	if err != nil {
		return err
	}
	after, err := queryUint(r, "after", 0)
	if err != nil {
		return err
	}
	limit, err := queryUint(r, "limit", uint64(s.cfg.MaxPageMessages))
	if err != nil {
		return err
	}
	if limit == 0 || limit > uint64(s.cfg.MaxPageMessages) {
		return api.BadRequest("invalid_query",
			"query parameter limit must be between 1 and "+strconv.Itoa(s.cfg.MaxPageMessages))
	}

	page, err := s.db.MessagesForDevice(store.DeviceQuery{
		ConversationID: conv.ID,
		UserID:         dev.UserID,
		DeviceID:       dev.DeviceID,
		After:          after,
		Limit:          int(limit),
		MaxBytes:       s.cfg.MaxPageBytes,
	})
	if err != nil {
		return err
	}
	out := pageView{Messages: make([]messageView, 0, len(page.Messages)), NextCursor: page.Next, HasMore: page.More}
	for _, m := range page.Messages {
		v, err := viewMessage(m)
		if err != nil {
			return err
		}
		out.Messages = append(out.Messages, v)
	}
	// Empty polls are not audited: they reach no message.
	if len(out.Messages) > 0 {
		s.record(ctx, audit.Event{Type: audit.TypeMessageFetch, ActorID: actor.UserID, TargetID: conv.ID,
			Address: api.ClientAddr(r), Outcome: audit.OutcomeSuccess,
			Detail: map[string]string{
				audit.DetailCount: strconv.Itoa(len(out.Messages)),
				audit.DetailRole:  string(actor.Role),
				"device":          dev.DeviceID,
			}})
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// markerRequest is the body of the delivered and read endpoints.
type markerRequest struct {
	Seq uint64 `json:"seq"`
}

// markerView is their response body: the marker after the update, which
// is never lower than before.
type markerView struct {
	Seq uint64 `json:"seq"`
}

// handleDelivered raises the calling device's delivered marker.
func (s *Service) handleDelivered(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	dev, err := s.callerDevice(r, actor)
	if err != nil {
		return err
	}
	return s.raiseMarker(w, r, actor, func(convID string, seq uint64) (uint64, error) {
		return s.db.MarkDelivered(convID, dev.UserID, dev.DeviceID, seq)
	})
}

// handleRead raises the caller's read marker, shared by all his devices.
func (s *Service) handleRead(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	return s.raiseMarker(w, r, actor, func(convID string, seq uint64) (uint64, error) {
		return s.db.MarkRead(convID, actor.UserID, seq)
	})
}

func (s *Service) raiseMarker(w http.ResponseWriter, r *http.Request, actor policy.Actor,
	raise func(convID string, seq uint64) (uint64, error)) error {
	conv, err := s.conversation(r.Context(), actor, policy.ActionConversationRead, r.PathValue("id"))
	if err != nil {
		return err
	}
	var req markerRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	seq, err := raise(conv.ID, req.Seq)
	if errors.Is(err, store.ErrSeqBeyondEnd) {
		return api.BadRequest("invalid_seq",
			"seq is beyond the conversation's last message: send the seq of a message you received")
	}
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, markerView{Seq: seq})
	return nil
}

// conversationView is a conversation in GET /api/v1/conversations.
type conversationView struct {
	ID      string           `json:"id"`
	Kind    ConversationKind `json:"kind"`
	Subject string           `json:"subject_id"`
	// LastSeq is the sequence number of the newest message, 0 for none.
	LastSeq uint64 `json:"last_seq"`
	// ReadSeq is the caller's read marker.
	ReadSeq uint64 `json:"read_seq"`
	// DeletedAt is the last time an administrator deleted the history.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// conversationDetail is the response body of GET /api/v1/conversations/{id}.
type conversationDetail struct {
	conversationView
	Members []string `json:"members"`
	// Read maps each member who read anything to his read marker.
	Read map[string]uint64 `json:"read"`
	// DeliveredSeq is the delivered marker of the device named in the
	// device header, when one is sent.
	DeliveredSeq uint64 `json:"delivered_seq,omitempty"`
}

func (s *Service) viewConversation(conv Conversation, userID string) (conversationView, store.Markers, error) {
	v := conversationView{ID: conv.ID, Kind: conv.Kind, Subject: conv.Subject}
	c, err := s.db.Conversation(conv.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return v, store.Markers{}, nil
	case err != nil:
		return v, store.Markers{}, err
	}
	v.LastSeq, v.DeletedAt = c.LastSeq, c.DeletedAt
	markers, err := s.db.ConversationMarkers(conv.ID)
	if err != nil {
		return v, store.Markers{}, err
	}
	v.ReadSeq = markers.Read[userID]
	return v, markers, nil
}

// handleListConversations lists the caller's conversations that the
// policy lets him read.
func (s *Service) handleListConversations(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	convs, err := s.dir.Conversations(ctx, actor)
	if err != nil {
		return err
	}
	out := make([]conversationView, 0, len(convs))
	for _, conv := range convs {
		err := s.dir.Authorize(ctx, actor, policy.ActionConversationRead, conv.Resource())
		var denied *api.Error
		if errors.As(err, &denied) {
			continue
		}
		if err != nil {
			return err
		}
		v, _, err := s.viewConversation(conv, actor.UserID)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	api.WriteJSON(w, http.StatusOK, map[string][]conversationView{"conversations": out})
	return nil
}

func (s *Service) handleGetConversation(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	conv, err := s.conversation(ctx, actor, policy.ActionConversationRead, r.PathValue("id"))
	if err != nil {
		return err
	}
	members, err := s.dir.ConversationMembers(ctx, conv)
	if errors.Is(err, ErrConversationNotFound) {
		return api.NotFound()
	}
	if err != nil {
		return err
	}

	v, markers, err := s.viewConversation(conv, actor.UserID)
	if err != nil {
		return err
	}
	out := conversationDetail{conversationView: v, Members: members, Read: map[string]uint64{}}
	for _, m := range members {
		if seq, ok := markers.Read[m]; ok {
			out.Read[m] = seq
		}
	}
	if r.Header.Get(DeviceHeader) != "" {
		dev, err := s.callerDevice(r, actor)
		if err != nil {
			return err
		}
		out.DeliveredSeq = markers.Delivered[store.Recipient{UserID: dev.UserID, DeviceID: dev.DeviceID}]
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}
