package audit

import (
	"context"
	"time"
)

// Outcome is the result of an audited operation.
type Outcome string

// Outcomes of audited operations.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeDenied  Outcome = "denied"
)

// Event is one security-relevant fact. It carries identifiers, sizes and
// outcomes only: never message content, tokens, passwords, codes or keys.
//
// Type is a dotted name such as "auth.login" or "message.send"; the full
// list is in docs/audit.md.
type Event struct {
	Type     string
	Time     time.Time // zero means "now" at recording time
	ActorID  string    // user id of whoever acted; empty for anonymous callers
	TargetID string    // user, consultation, device or message id acted on
	Address  string    // client IP address, without port
	Outcome  Outcome
	// Detail holds extra identifiers and sizes, such as "bytes" or "role".
	// Values must never contain secrets or health content.
	Detail map[string]string
}

// Recorder receives audit events. Implementations must be safe for
// concurrent use and must not block the caller for long: a request never
// waits on alert delivery.
type Recorder interface {
	Record(ctx context.Context, e Event)
}

// Discard is a Recorder that drops every event. It is meant for tests of
// packages that do not check auditing.
type Discard struct{}

// Record drops e.
func (Discard) Record(context.Context, Event) {}
