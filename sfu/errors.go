package sfu

import "errors"

var (
	// ErrClosed is returned by calls on a closed SFU or Peer.
	ErrClosed = errors.New("sfu: closed")

	// ErrInvalidID is returned by Join for an empty or oversized room or
	// participant ID.
	ErrInvalidID = errors.New("sfu: invalid room or participant ID")

	// ErrTooManyRooms is returned by Join when MaxRooms rooms exist.
	ErrTooManyRooms = errors.New("sfu: room limit reached")

	// ErrRoomFull is returned by Join when the room has
	// MaxParticipantsPerRoom participants.
	ErrRoomFull = errors.New("sfu: room is full")

	// ErrTooManyTracks is returned by HandleOffer when the offer would publish
	// more tracks than MaxTracksPerParticipant or MaxTracksPerRoom allow.
	ErrTooManyTracks = errors.New("sfu: track limit reached")

	// ErrSDPTooLarge is returned for a session description over MaxSDPBytes.
	ErrSDPTooLarge = errors.New("sfu: session description too large")

	// ErrInvalidSDP is returned for a session description that does not
	// parse, or that Pion rejects.
	ErrInvalidSDP = errors.New("sfu: invalid session description")

	// ErrOfferCollision is returned by HandleOffer when the client's offer
	// crossed an SFU offer that is waiting for the client's answer (glare).
	// The SFU's offer was sent first; the client answers it and offers again.
	ErrOfferCollision = errors.New("sfu: offer crossed a pending SFU offer, answer it and offer again")

	// ErrNoPendingOffer is returned by HandleAnswer when the SFU has no offer
	// waiting for an answer. The answer is stale and can be dropped.
	ErrNoPendingOffer = errors.New("sfu: no offer is waiting for an answer")

	// ErrNewSession is returned by HandleOffer and HandleAnswer for a
	// description whose DTLS fingerprint differs from the client's
	// description already applied: the client started a new PeerConnection,
	// which this Peer cannot serve. Join the participant again for a new
	// Peer.
	ErrNewSession = errors.New("sfu: description from a new client PeerConnection, join again for a new peer")

	// ErrInvalidCandidate is returned by AddICECandidate for an oversized
	// candidate or one that Pion rejects.
	ErrInvalidCandidate = errors.New("sfu: invalid ICE candidate")

	// ErrTooManyCandidates is returned by AddICECandidate when more than
	// maxBufferedCandidates candidates arrive before the first offer.
	ErrTooManyCandidates = errors.New("sfu: too many ICE candidates before the offer")

	// ErrReplaced is passed to Signaler.Closed of a peer whose participant
	// joined the same room again.
	ErrReplaced = errors.New("sfu: participant joined again from another connection")

	// ErrConnectTimeout is passed to Signaler.Closed when a peer does not
	// connect within Config.ConnectTimeout of joining.
	ErrConnectTimeout = errors.New("sfu: peer did not connect in time")

	// ErrAnswerTimeout is passed to Signaler.Closed when the client does not
	// answer an SFU offer within Config.AnswerTimeout: its signaling is stuck
	// and no later track change could reach it.
	ErrAnswerTimeout = errors.New("sfu: client did not answer the SFU's offer in time")

	// ErrConnectionLost is passed to Signaler.Closed when ICE fails or DTLS
	// closes: the client vanished or its network changed without an ICE
	// restart in time.
	ErrConnectionLost = errors.New("sfu: media connection lost")

	// ErrNoMediaAddress is returned by New when no network interface passes
	// the interface filter and network types.
	ErrNoMediaAddress = errors.New("sfu: no local address for media")
)
