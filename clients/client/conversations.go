package client

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Conversation is a conversation the signed-in user may read: the care
// thread of a patient ("care:<patient id>") or the conversation of a
// consultation ("consultation:<consultation id>").
type Conversation struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Subject string `json:"subject_id"`
	LastSeq uint64 `json:"last_seq"`
	ReadSeq uint64 `json:"read_seq"`
}

// Conversations lists the conversations of the signed-in user.
func (c *Client) Conversations(ctx context.Context) ([]Conversation, error) {
	var out struct {
		Conversations []Conversation `json:"conversations"`
	}
	if err := c.doJSON(ctx, request{method: "GET", path: "/api/v1/conversations"}, &out); err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return out.Conversations, nil
}

// conversationMembers returns the user ids of a conversation's members.
func (c *Client) conversationMembers(ctx context.Context, convID string) ([]string, error) {
	var out struct {
		Members []string `json:"members"`
	}
	err := c.doJSON(ctx, request{method: "GET", path: "/api/v1/conversations/" + url.PathEscape(convID)}, &out)
	if err != nil {
		return nil, fmt.Errorf("conversation %s: %w", convID, err)
	}
	return out.Members, nil
}

// Participant is one participant of a consultation.
type Participant struct {
	UserID string `json:"user_id"`
	Kind   string `json:"kind"`
	Role   string `json:"role"`
}

// Consultation is an appointment as the clinic API describes it.
type Consultation struct {
	ID           string        `json:"id"`
	PatientID    string        `json:"patient_id"`
	Participants []Participant `json:"participants"`
	Start        time.Time     `json:"start"`
	End          time.Time     `json:"end"`
	Status       string        `json:"status"`
}

// ConversationID returns the id of the consultation's conversation.
func (c Consultation) ConversationID() string { return "consultation:" + c.ID }

// Consultations lists the signed-in user's consultations in the server's
// default window (30 days back to 90 days ahead).
func (c *Client) Consultations(ctx context.Context) ([]Consultation, error) {
	var out struct {
		Consultations []Consultation `json:"consultations"`
	}
	if err := c.doJSON(ctx, request{method: "GET", path: "/api/v1/consultations"}, &out); err != nil {
		return nil, fmt.Errorf("list consultations: %w", err)
	}
	return out.Consultations, nil
}
