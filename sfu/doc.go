// Package sfu is Bedside's media relay: a selective forwarding unit built on
// Pion WebRTC v4. It owns one PeerConnection per participant, forwards every
// published audio and video track to the other participants of the room,
// asks publishers for keyframes, and runs the network side of media: one UDP
// port for all peers (ICE UDP mux), an optional public address for hosts
// behind 1:1 NAT, and an optional embedded TURN server (package turnrelay)
// that relays only to the SFU itself.
//
// # API flow
//
// The signaling hub authenticates a participant, authorizes it for a room,
// and then:
//
//  1. calls SFU.Join(roomID, participantID, signaler), and hands the client
//     SFU.TURNCredentials(participantID) when TURN is on;
//  2. passes the client's offer to Peer.HandleOffer and sends back the answer,
//     and passes client candidates to Peer.AddICECandidate (before or after
//     the offer: early ones are buffered);
//  3. relays what the SFU sends through the Signaler: SendOffer when tracks
//     come or go (the client answers through Peer.HandleAnswer),
//     SendCandidate, and Closed when the SFU drops the peer;
//  4. calls Peer.ResendOffer when the participant resumed after its
//     signaling connection dropped, because an SFU offer sent meanwhile was
//     lost;
//  5. calls Peer.Close when the participant leaves or its reconnect grace
//     period ends.
//
// HandleOffer and HandleAnswer return ErrNewSession for a description from
// another client PeerConnection than the one negotiated (its DTLS
// fingerprint differs). The hub then joins the participant again, which
// replaces the Peer, and hands the offer to the new Peer.
//
// The client makes the first offer. Afterwards both sides may offer: the
// client to add or remove its tracks or to restart ICE after a network change
// (createOffer with iceRestart), the SFU to add or remove the tracks it
// forwards. When offers cross, the SFU is the impolite side of the "perfect
// negotiation" pattern, because Pion cannot roll back a local offer: the
// client's offer gets ErrOfferCollision, and the client, as the polite side,
// answers the SFU's offer (which it received first) and offers again.
//
// Each forwarded track reaches a subscriber with the publisher's
// participant ID as its MediaStream ID (msid) and the publisher's track ID.
//
// # Caveats
//
//   - Signaling order: SendOffer must reach the client after the answer
//     returned by the HandleOffer call before it. The SFU waits
//     NegotiationDelay after HandleOffer before it offers; a hub that queues
//     the answer on the peer's ordered outbound queue as soon as HandleOffer
//     returns (or reserves the queue slot before calling it) meets this.
//   - No simulcast layer selection and no bandwidth estimation: the first
//     simulcast layer to arrive is forwarded, and a subscriber gets the
//     publisher's bitrate. TWCC feedback is generated for publishers only.
//   - Header extensions are stripped when forwarding, because their IDs are
//     negotiated per PeerConnection: subscribers get no audio level, video
//     orientation or transport-wide sequence number.
//   - A subscriber whose browser lacks the publisher's codec (for example
//     H.264 in some builds) does not receive that track.
//   - ICE candidates that a client sends are used as given; the SFU does not
//     filter remote addresses, so connectivity checks go wherever a client's
//     candidates point (STUN binding requests only, bounded by ICE pacing).
//   - An offer without media sections gets a session-level answer and leaves
//     the PeerConnection untouched (Pion rejects such an offer, which has no
//     ICE credentials); the SFU's first own offer then sets up ICE and DTLS.
//   - TURN relays IPv4 only.
package sfu
