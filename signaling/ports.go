package signaling

import (
	"context"
	"log/slog"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/policy"
)

// Authenticator validates the session token a client sends in its first
// message. The hub calls it again every Config.SessionCheck while the
// connection is open, so each call should refresh the session's idle
// timer as a request does. Implementations must be safe for concurrent
// use.
type Authenticator interface {
	// Authenticate returns the actor the token belongs to. For an unknown,
	// expired or revoked session the error must wrap ErrSessionInvalid. At
	// the first message any error closes the connection with
	// CloseAuthFailed; on a re-check ErrSessionInvalid closes the session's
	// connections and other errors are retried. The error text never
	// reaches the client.
	Authenticate(ctx context.Context, token string) (policy.Actor, error)
}

// Rooms decides who may join a consultation and records its status.
// Implementations must be safe for concurrent use.
type Rooms interface {
	// AuthorizeJoin returns the actor's place in the consultation. It must
	// return an error wrapping ErrNotFound both for a consultation that does
	// not exist and for an actor who is not on its participant list, so the
	// client cannot tell the two apart. It returns an error wrapping
	// ErrOutsideWindow, only to a listed participant, when now lies outside
	// the appointment window. The hub reports any other error as an internal
	// error.
	AuthorizeJoin(ctx context.Context, actor policy.Actor, consultationID string, now time.Time) (Grant, error)

	// Consultation returns the consultation's current status and the end
	// of its join window. The hub calls it after every successful
	// AuthorizeJoin: a new room starts from this status, so that the hub
	// reports only transitions the clinic allows, for example after a
	// server restart in the middle of a call.
	Consultation(ctx context.Context, consultationID string) (ConsultationState, error)

	// SetStatus records a status transition of the consultation. The hub
	// calls it for one consultation at a time, in order, and logs an error
	// without retrying. It reports only the transitions that
	// StatusTransitions lists.
	SetStatus(ctx context.Context, consultationID string, status Status) error
}

// Grant is an actor's place in a consultation.
type Grant struct {
	// Host marks a clinician of the consultation: a host joins directly,
	// sees the waiting room and may admit, deny and remove others, and end
	// the consultation.
	Host bool
	// Role is the actor's role as shown to the other participants.
	Role policy.Role
}

// ConsultationState is the clinic's record of a consultation as the hub
// needs it.
type ConsultationState struct {
	Status Status
	// JoinUntil is the end of the join window: the scheduled end plus the
	// clinic's join grace. A consultation in progress whose room is empty
	// after JoinUntil is completed.
	JoinUntil time.Time
}

// Status is a consultation status as the hub reads and reports it.
type Status string

// Consultation statuses.
const (
	// StatusScheduled: booked and not started, with nobody in the waiting
	// room.
	StatusScheduled Status = "scheduled"
	// StatusWaiting: a participant is in the waiting room and the
	// consultation has not started.
	StatusWaiting Status = "waiting"
	// StatusInProgress: a host and another participant were admitted at
	// the same time. The consultation stays in progress while its room is
	// empty, until a host ends it or the join window closes.
	StatusInProgress Status = "in-progress"
	// StatusCompleted: a host ended the consultation, or its room was
	// empty when the join window closed.
	StatusCompleted Status = "completed"
	// StatusClosed is any other clinic status, such as requested,
	// cancelled or no-show. The hub never reports it, and no one may join
	// a consultation in it.
	StatusClosed Status = "closed"
)

// StatusTransitions returns the status changes the hub reports through
// Rooms.SetStatus, each as a from-to pair.
func StatusTransitions() [][2]Status {
	return [][2]Status{
		{StatusScheduled, StatusWaiting},
		{StatusScheduled, StatusInProgress},
		{StatusWaiting, StatusInProgress},
		{StatusWaiting, StatusScheduled},
		{StatusInProgress, StatusCompleted},
	}
}

// Media is the selective forwarding unit. Implementations must be safe for
// concurrent use.
type Media interface {
	// Join creates the media peer of participantID in roomID. The SFU sends
	// its own offers and candidates through sig. The hub calls Join again
	// with the same participant id after it closed the previous peer: after
	// the SFU closed it, or when the client started a new RTCPeerConnection.
	Join(roomID, participantID string, sig MediaSignaler) (MediaPeer, error)
	// TURNCredentials returns short-lived TURN credentials for
	// participantID, or false when no TURN server is configured. The hub
	// calls it with a room lock held, so it must not call back into the
	// hub or wait for a goroutine that does.
	TURNCredentials(participantID string) (TURNCredentials, bool)
}

// MediaSignaler carries SFU-initiated signaling to one participant. The SFU
// calls it from its own goroutines; the hub's implementation never blocks on
// the network and drops what it cannot queue.
type MediaSignaler interface {
	SendOffer(sdp string)
	SendCandidate(c webrtc.ICECandidateInit)
	// Closed reports that the SFU closed the peer, for example after an ICE
	// failure. The hub tells the client, which may send a new offer.
	Closed(reason error)
}

// MediaPeer is one participant's connection to the SFU. The hub calls its
// methods from one goroutine at a time per peer, in the order the client
// sent the messages.
type MediaPeer interface {
	// HandleOffer applies a client offer and returns the SFU's answer. It
	// returns an error wrapping ErrNewMediaSession, and changes nothing, for
	// an offer from another client RTCPeerConnection than the one
	// negotiated; the hub then replaces the peer.
	HandleOffer(sdp string) (string, error)
	// HandleAnswer applies the client's answer to an SFU offer. It returns
	// an error wrapping ErrNewMediaSession as HandleOffer does.
	HandleAnswer(sdp string) error
	// ResendOffer sends the SFU offer that waits for the client's answer
	// again, through the peer's MediaSignaler, and restarts the SFU's wait
	// for the answer. It reports whether an offer was waiting. The hub calls
	// it when the client cannot have received the offer, because the
	// offer was sent while the participant was disconnected.
	ResendOffer() bool
	// AddICECandidate adds a remote candidate. A candidate that arrives
	// before its session description is buffered by the SFU.
	AddICECandidate(c webrtc.ICECandidateInit) error
	// Close releases the peer. It must be safe to call more than once.
	Close() error
}

// TURNCredentials are short-lived credentials for the embedded TURN server.
type TURNCredentials struct {
	URLs       []string
	Username   string
	Credential string
	TTL        time.Duration
}

// LogValue redacts the credential.
func (t TURNCredentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("urls", t.URLs),
		slog.Duration("ttl", t.TTL),
	)
}

// ICEServer is a STUN or TURN server as the browser's RTCIceServer
// dictionary names it.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Alert is a security alert pushed to online administrators. It carries
// identifiers only, never content.
type Alert struct {
	ID       string    `json:"id"`
	Severity string    `json:"severity"`
	Type     string    `json:"type"`
	Time     time.Time `json:"time"`
}
