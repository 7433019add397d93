package messaging

import (
	"fmt"
	"strings"

	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/policy"
)

// ConversationKind is the kind of record a conversation belongs to.
type ConversationKind string

// The two kinds of conversation. Their ids are the kind, a colon and the
// subject's id: "consultation:<consultation id>" and "care:<patient id>".
const (
	// KindConsultation is the conversation of one consultation; its
	// members are the consultation's participants.
	KindConsultation ConversationKind = "consultation"
	// KindCare is a patient's standing care thread; its members are the
	// patient and his care team.
	KindCare ConversationKind = "care"
)

// Conversation names one conversation. Conversations are not created:
// every consultation and every patient has one, and it is stored once its
// first message arrives.
type Conversation struct {
	ID      string
	Kind    ConversationKind
	Subject string // consultation id or patient id
}

// ConsultationConversation returns the conversation of a consultation.
func ConsultationConversation(consultationID string) Conversation {
	return Conversation{
		ID:      string(KindConsultation) + ":" + consultationID,
		Kind:    KindConsultation,
		Subject: consultationID,
	}
}

// CareConversation returns the care thread of a patient.
func CareConversation(patientID string) Conversation {
	return Conversation{ID: string(KindCare) + ":" + patientID, Kind: KindCare, Subject: patientID}
}

// ParseConversationID parses "consultation:<id>" or "care:<id>". The id
// must also be a valid e2ee identifier (at most 64 bytes), because message
// headers carry it. The error wraps ErrConversationNotFound, so that an
// invalid id looks like a missing one.
func ParseConversationID(id string) (Conversation, error) {
	kind, subject, ok := strings.Cut(id, ":")
	valid := ok && len(id) <= e2ee.MaxIDLength && validSubject(subject)
	switch {
	case valid && kind == string(KindConsultation):
		return ConsultationConversation(subject), nil
	case valid && kind == string(KindCare):
		return CareConversation(subject), nil
	}
	return Conversation{}, fmt.Errorf("conversation id %q: %w", truncate(id), ErrConversationNotFound)
}

// validSubject accepts 1 to 64 ASCII letters, digits, '-' and '_', the
// shape of every account and consultation id.
func validSubject(s string) bool {
	if len(s) == 0 || len(s) > e2ee.MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Resource returns the policy resource of the conversation: the
// consultation it belongs to, or the patient whose care thread it is.
func (c Conversation) Resource() policy.Resource {
	res := policy.Resource{Kind: policy.KindConversation, ID: c.ID}
	if c.Kind == KindConsultation {
		res.ConsultationID = c.Subject
	} else {
		res.PatientID = c.Subject
	}
	return res
}

// truncate keeps client-supplied ids short in error messages.
func truncate(s string) string {
	if len(s) > e2ee.MaxIDLength {
		return s[:e2ee.MaxIDLength] + "..."
	}
	return s
}
