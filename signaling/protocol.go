package signaling

import (
	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/policy"
)

// Subprotocol is the WebSocket subprotocol of this protocol version. A client
// must offer it in Sec-WebSocket-Protocol; the upgrade fails otherwise.
const Subprotocol = "bedside.v1"

// Message types sent by clients.
const (
	TypeAuth      = "auth"
	TypeJoin      = "join"
	TypeLeave     = "leave"
	TypeAdmit     = "admit"
	TypeDeny      = "deny"
	TypeRemove    = "remove"
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypePing      = "ping"
	TypePresence  = "presence"
	TypeTURN      = "turn"
	TypeEnd       = "end"
)

// Message types sent by the server. offer, answer, candidate, presence and
// turn are sent in both directions.
const (
	TypeAuthOK            = "auth-ok"
	TypeOK                = "ok"
	TypeError             = "error"
	TypePong              = "pong"
	TypeJoined            = "joined"
	TypeWaiting           = "waiting"
	TypeWaitingList       = "waiting-list"
	TypeAdmitted          = "admitted"
	TypeDenied            = "denied"
	TypeRemoved           = "removed"
	TypeParticipantJoined = "participant-joined"
	TypeParticipantLeft   = "participant-left"
	TypeMediaClosed       = "media-closed"
	TypeMessage           = "message"
	TypeAlert             = "alert"
	TypeSessionRevoked    = "session-revoked"
	TypeEnded             = "ended"
)

// Code is the code of an error message. Clients switch on the code; the
// message text is for people.
type Code string

// Error codes.
const (
	CodeBadRequest           Code = "bad-request"
	CodeUnknownType          Code = "unknown-type"
	CodeRateLimited          Code = "rate-limited"
	CodeAlreadyAuthenticated Code = "already-authenticated"
	CodeNotFound             Code = "not-found"
	CodeOutsideWindow        Code = "outside-window"
	CodeAlreadyJoined        Code = "already-joined"
	CodeNotJoined            Code = "not-joined"
	CodeNotAdmitted          Code = "not-admitted"
	CodeForbidden            Code = "forbidden"
	CodeUnknownParticipant   Code = "unknown-participant"
	CodeMediaFailed          Code = "media-failed"
	CodeTooManyJoins         Code = "too-many-joins"
	CodeNotStarted           Code = "not-started"
	CodeInternal             Code = "internal"
)

// WebSocket close codes the hub sends. Codes 1002 (protocol error) and 1009
// (message too big) come from the WebSocket library itself.
const (
	CloseNormal             = 1000
	CloseGoingAway          = 1001
	ClosePolicyViolation    = 1008 // the session was revoked
	CloseInternalError      = 1011
	CloseAuthFailed         = 4001 // missing, malformed or rejected auth message
	CloseAuthTimeout        = 4002 // no auth message within Config.AuthTimeout
	CloseSlowConsumer       = 4008 // the outbound queue was full
	CloseTooManyErrors      = 4009 // too many invalid messages within Config.ErrorWindow
	CloseSuperseded         = 4010 // the participant resumed on another connection
	CloseTooManyConnections = 4011 // the user has Config.MaxUserConnections connections already
	CloseRateLimited        = 4029 // too many rate-limited messages within Config.ErrorWindow
)

// Presence states in roster entries and presence messages. Clients send
// active or away; the hub sets disconnected while a participant is in the
// reconnect grace period.
const (
	PresenceActive       = "active"
	PresenceAway         = "away"
	PresenceDisconnected = "disconnected"
)

// Participant states in a joined message.
const (
	StateWaiting  = "waiting"
	StateAdmitted = "admitted"
)

// Media session states in the media field of a joined message. MediaNew is
// also the one value of a join message's media field.
const (
	// MediaKept: the participant's SFU peer survived the reconnect. The
	// client keeps its RTCPeerConnection and sends an offer with an ICE
	// restart.
	MediaKept = "kept"
	// MediaNew: the participant has no SFU peer. The client starts a new
	// RTCPeerConnection, whose first offer creates the peer.
	MediaNew = "new"
)

// Reasons in a participant-left message.
const (
	LeftReasonLeft    = "left"    // the participant sent leave
	LeftReasonRemoved = "removed" // a host removed the participant
	LeftReasonTimeout = "timeout" // the reconnect grace period ended
	LeftReasonRevoked = "revoked" // the participant's session was revoked
	LeftReasonEnded   = "ended"   // a host ended the consultation (audit only)
)

// Header contains the fields every message carries. ID is an optional
// request id chosen by the client; the server echoes it in its reply.
type Header struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

func (h Header) header() Header { return h }

// AuthMessage is the first message of every connection.
type AuthMessage struct {
	Header
	Token  string `json:"token"`
	Device string `json:"device,omitempty"` // client-chosen device label
}

// JoinMessage asks to join a consultation, or to resume a participant whose
// connection dropped when Resume holds the token from its joined message.
// Media set to MediaNew drops the media session kept for a resumed
// participant, for a client that has no RTCPeerConnection to keep.
type JoinMessage struct {
	Header
	Consultation string `json:"consultation"`
	Resume       string `json:"resume,omitempty"`
	Media        string `json:"media,omitempty"`
}

// LeaveMessage leaves the current consultation at once, without a grace
// period.
type LeaveMessage struct {
	Header
}

// AdmitMessage, sent by a host, lets a participant out of the waiting room.
type AdmitMessage struct {
	Header
	Participant string `json:"participant"`
}

// DenyMessage, sent by a host, turns a participant away from the waiting
// room.
type DenyMessage struct {
	Header
	Participant string `json:"participant"`
}

// RemoveMessage, sent by a host, removes a participant who is not a host.
type RemoveMessage struct {
	Header
	Participant string `json:"participant"`
}

// OfferMessage carries an SDP offer, from the client to the SFU or back.
type OfferMessage struct {
	Header
	SDP string `json:"sdp"`
}

// AnswerMessage carries an SDP answer, from the client to the SFU or back.
type AnswerMessage struct {
	Header
	SDP string `json:"sdp"`
}

// CandidateMessage carries one trickled ICE candidate in either direction.
// An empty Candidate.Candidate marks the end of candidates.
type CandidateMessage struct {
	Header
	Candidate webrtc.ICECandidateInit `json:"candidate"`
}

// PingMessage asks for a pong; clients use it to measure round trips and to
// keep intermediaries from closing an idle connection.
type PingMessage struct {
	Header
}

// PresenceMessage sets the sender's presence, active or away, shown to the
// other admitted participants.
type PresenceMessage struct {
	Header
	Status string `json:"status"`
}

// TURNMessage asks for fresh TURN credentials, for an ICE restart after
// the credentials from joined or admitted expired.
type TURNMessage struct {
	Header
}

// EndMessage, sent by a host, ends a consultation in progress for every
// participant and records it as completed.
type EndMessage struct {
	Header
}

// AuthOKMessage confirms authentication.
type AuthOKMessage struct {
	Header
	User       string      `json:"user"`
	Role       policy.Role `json:"role"`
	Connection string      `json:"connection"`
}

// OKMessage confirms a request that has no other reply. The server sends it
// only when the request carried an id.
type OKMessage struct {
	Header
	Request string `json:"request"`
}

// ErrorMessage reports a rejected message. ID and Request name the request
// when the server could read them.
type ErrorMessage struct {
	Header
	Request string `json:"request,omitempty"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// PongMessage replies to a ping.
type PongMessage struct {
	Header
}

// RosterEntry describes one participant. Device is the label the client
// chose in its auth message and is not verified.
type RosterEntry struct {
	Participant string      `json:"participant"`
	User        string      `json:"user"`
	Device      string      `json:"device,omitempty"`
	Role        policy.Role `json:"role"`
	Host        bool        `json:"host"`
	Presence    string      `json:"presence"`
}

// TURNMessagePart is the TURN part of joined and admitted messages.
type TURNMessagePart struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
	TTL        int64    `json:"ttl"` // seconds
}

// JoinedMessage replies to join. Media, Roster, TURN and ICEServers are
// present only in state admitted, Waiting only for hosts. Media is
// MediaKept or MediaNew.
type JoinedMessage struct {
	Header
	Consultation string           `json:"consultation"`
	Participant  string           `json:"participant"`
	State        string           `json:"state"`
	Host         bool             `json:"host"`
	Resumed      bool             `json:"resumed"`
	Resume       string           `json:"resume"`
	Media        string           `json:"media,omitempty"`
	Roster       []RosterEntry    `json:"roster,omitempty"`
	Waiting      []RosterEntry    `json:"waiting,omitempty"`
	TURN         *TURNMessagePart `json:"turn,omitempty"`
	ICEServers   []ICEServer      `json:"iceServers,omitempty"`
}

// TURNReplyMessage replies to turn with fresh credentials.
type TURNReplyMessage struct {
	Header
	TURN       *TURNMessagePart `json:"turn,omitempty"`
	ICEServers []ICEServer      `json:"iceServers,omitempty"`
}

// WaitingMessage tells the hosts that a participant entered the waiting
// room.
type WaitingMessage struct {
	Header
	Consultation string      `json:"consultation"`
	Participant  RosterEntry `json:"participant"`
}

// WaitingListMessage gives the hosts the whole waiting room after every
// change.
type WaitingListMessage struct {
	Header
	Consultation string        `json:"consultation"`
	Waiting      []RosterEntry `json:"waiting"`
}

// AdmittedMessage tells a waiting participant that a host admitted it.
type AdmittedMessage struct {
	Header
	Consultation string           `json:"consultation"`
	Roster       []RosterEntry    `json:"roster"`
	TURN         *TURNMessagePart `json:"turn,omitempty"`
	ICEServers   []ICEServer      `json:"iceServers,omitempty"`
}

// DeniedMessage tells a waiting participant that a host turned it away.
type DeniedMessage struct {
	Header
	Consultation string `json:"consultation"`
}

// RemovedMessage tells a participant that a host removed it.
type RemovedMessage struct {
	Header
	Consultation string `json:"consultation"`
}

// ParticipantJoinedMessage announces a newly admitted participant.
type ParticipantJoinedMessage struct {
	Header
	Consultation string      `json:"consultation"`
	Participant  RosterEntry `json:"participant"`
}

// ParticipantLeftMessage announces that an admitted participant left.
type ParticipantLeftMessage struct {
	Header
	Consultation string      `json:"consultation"`
	Participant  RosterEntry `json:"participant"`
	Reason       string      `json:"reason"`
}

// PresenceUpdate announces a participant's new presence.
type PresenceUpdate struct {
	Header
	Consultation string `json:"consultation"`
	Participant  string `json:"participant"`
	Status       string `json:"status"`
}

// MediaClosedMessage tells a client that the SFU closed its media peer.
type MediaClosedMessage struct {
	Header
}

// NewMessageNotification announces a stored message by id. It never carries
// content: the client fetches the ciphertext through the API.
type NewMessageNotification struct {
	Header
	Conversation string `json:"conversation"`
	Message      string `json:"message"`
}

// AlertMessage pushes a security alert to an administrator.
type AlertMessage struct {
	Header
	Alert Alert `json:"alert"`
}

// EndedMessage tells every participant, waiting or admitted, that a host
// ended the consultation. The participant is out of the room and cannot
// join again.
type EndedMessage struct {
	Header
	Consultation string `json:"consultation"`
}

// SessionRevokedMessage precedes the close of a revoked session's
// connections.
type SessionRevokedMessage struct {
	Header
}
