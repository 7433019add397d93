package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Bounds on client message fields. The whole message is also bounded by
// Config.ReadLimit.
const (
	maxRequestIDLen    = 64
	maxTokenLen        = 1024
	maxDeviceLen       = 64
	maxConsultationLen = 128
	maxParticipantLen  = 64
	maxResumeLen       = 64
	maxSDPLen          = 60 << 10
	maxCandidateLen    = 1024
	maxSDPMidLen       = 64
	maxUfragLen        = 256
	maxEchoLen         = 64 // maximum length of a client value quoted in an error
)

// Request is a decoded client message: one of *AuthMessage, *JoinMessage,
// *LeaveMessage, *AdmitMessage, *DenyMessage, *RemoveMessage, *OfferMessage,
// *AnswerMessage, *CandidateMessage, *PingMessage, *PresenceMessage,
// *TURNMessage or *EndMessage.
type Request interface {
	header() Header
	validate() error
}

// DecodeError is returned by Decode. Type and ID hold the message's type and
// request id when they could be read, so the reply can name the request.
type DecodeError struct {
	Type string
	ID   string
	Err  error // wraps ErrMalformed or ErrUnknownType
}

func (e *DecodeError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// clientMessages maps each client message type to a constructor of its
// struct. Decode rejects every other type.
var clientMessages = map[string]func() Request{
	TypeAuth:      func() Request { return new(AuthMessage) },
	TypeJoin:      func() Request { return new(JoinMessage) },
	TypeLeave:     func() Request { return new(LeaveMessage) },
	TypeAdmit:     func() Request { return new(AdmitMessage) },
	TypeDeny:      func() Request { return new(DenyMessage) },
	TypeRemove:    func() Request { return new(RemoveMessage) },
	TypeOffer:     func() Request { return new(OfferMessage) },
	TypeAnswer:    func() Request { return new(AnswerMessage) },
	TypeCandidate: func() Request { return new(CandidateMessage) },
	TypePing:      func() Request { return new(PingMessage) },
	TypePresence:  func() Request { return new(PresenceMessage) },
	TypeTURN:      func() Request { return new(TURNMessage) },
	TypeEnd:       func() Request { return new(EndMessage) },
}

// Decode parses one client message. It accepts only a single JSON object
// with a known type and the fields of that type, each once, spelled exactly
// and within its bounds. docs/signaling.md lists the rejection rules. Decode is safe for concurrent
// use and does not retain data.
func Decode(data []byte) (Request, error) {
	var head struct {
		Type *string `json:"type"`
		ID   *string `json:"id"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, &DecodeError{Err: malformed("%s", describeJSONError(err))}
	}
	if head.ID != nil {
		if err := checkRequestID(*head.ID); err != nil {
			return nil, &DecodeError{Err: err}
		}
	}

	failure := &DecodeError{}
	if head.ID != nil {
		failure.ID = *head.ID
	}
	if head.Type == nil {
		failure.Err = malformed("missing field type")
		return nil, failure
	}
	newMessage, ok := clientMessages[*head.Type]
	if !ok {
		failure.Err = fmt.Errorf("%w %s", ErrUnknownType, quote(*head.Type))
		return nil, failure
	}
	failure.Type = *head.Type

	m := newMessage()
	if err := checkKeys(data, reflect.TypeOf(m).Elem()); err != nil {
		failure.Err = malformed("invalid %s message: %v", *head.Type, err)
		return nil, failure
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		failure.Err = malformed("invalid %s message: %v", *head.Type, err)
		return nil, failure
	}
	if err := m.validate(); err != nil {
		failure.Err = err
		return nil, failure
	}
	return m, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, truncate(fmt.Sprintf(format, args...), 200))
}

func (m *AuthMessage) validate() error {
	if err := checkPrintable("token", m.Token, maxTokenLen); err != nil {
		return err
	}
	if m.Device == "" {
		return nil
	}
	return checkLabel("device", m.Device, maxDeviceLen, "._-")
}

func (m *JoinMessage) validate() error {
	if err := checkLabel("consultation", m.Consultation, maxConsultationLen, "._:-"); err != nil {
		return err
	}
	if m.Media != "" && m.Media != MediaNew {
		return malformed("field media must be %q or absent", MediaNew)
	}
	if m.Resume == "" {
		return nil
	}
	return checkLabel("resume", m.Resume, maxResumeLen, "_-")
}

func (m *LeaveMessage) validate() error { return nil }
func (m *PingMessage) validate() error  { return nil }
func (m *TURNMessage) validate() error  { return nil }
func (m *EndMessage) validate() error   { return nil }

func (m *AdmitMessage) validate() error  { return checkParticipant(m.Participant) }
func (m *DenyMessage) validate() error   { return checkParticipant(m.Participant) }
func (m *RemoveMessage) validate() error { return checkParticipant(m.Participant) }

func (m *OfferMessage) validate() error  { return checkSDP(m.SDP) }
func (m *AnswerMessage) validate() error { return checkSDP(m.SDP) }

func (m *CandidateMessage) validate() error {
	c := m.Candidate
	if len(c.Candidate) > maxCandidateLen {
		return malformed("field candidate.candidate is longer than %d bytes", maxCandidateLen)
	}
	if c.SDPMid != nil && len(*c.SDPMid) > maxSDPMidLen {
		return malformed("field candidate.sdpMid is longer than %d bytes", maxSDPMidLen)
	}
	if c.UsernameFragment != nil && len(*c.UsernameFragment) > maxUfragLen {
		return malformed("field candidate.usernameFragment is longer than %d bytes", maxUfragLen)
	}
	return nil
}

func (m *PresenceMessage) validate() error {
	switch m.Status {
	case PresenceActive, PresenceAway:
		return nil
	}
	return malformed("field status must be %q or %q", PresenceActive, PresenceAway)
}

func checkRequestID(id string) error {
	if id == "" {
		return nil
	}
	return checkPrintable("id", id, maxRequestIDLen)
}

func checkParticipant(id string) error {
	return checkLabel("participant", id, maxParticipantLen, "_-")
}

func checkSDP(sdp string) error {
	switch {
	case sdp == "":
		return malformed("missing field sdp")
	case len(sdp) > maxSDPLen:
		return malformed("field sdp is longer than %d bytes", maxSDPLen)
	}
	return nil
}

// checkPrintable requires 1 to max bytes of printable ASCII without spaces.
func checkPrintable(field, v string, max int) error {
	if v == "" {
		return malformed("missing field %s", field)
	}
	if len(v) > max {
		return malformed("field %s is longer than %d bytes", field, max)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return malformed("field %s contains a byte outside printable ASCII", field)
		}
	}
	return nil
}

// checkLabel requires 1 to max bytes of ASCII letters, digits and the bytes
// in extra.
func checkLabel(field, v string, max int, extra string) error {
	if v == "" {
		return malformed("missing field %s", field)
	}
	if len(v) > max {
		return malformed("field %s is longer than %d bytes", field, max)
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			strings.IndexByte(extra, b) >= 0
		if !ok {
			return malformed("field %s may contain only letters, digits and %q", field, extra)
		}
	}
	return nil
}

func quote(s string) string { return fmt.Sprintf("%q", truncate(s, maxEchoLen)) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// describeJSONError says what is wrong with a message in JSON terms, without
// the Go types that encoding/json names.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("field %q must not be a JSON %s", typeErr.Field, typeErr.Value)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("a message must be a JSON object, not a JSON %s", typeErr.Value)
	default:
		return "invalid JSON object"
	}
}
