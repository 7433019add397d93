package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bedside-health/bedside/sfu/keyframe"
)

// Defaults for Config fields left zero (except UDPPort, see Config).
const (
	DefaultUDPPort                 = 7881
	DefaultMaxRooms                = 1000
	DefaultMaxParticipantsPerRoom  = 8
	DefaultMaxTracksPerParticipant = 4
	DefaultICEDisconnectedTimeout  = 3 * time.Second
	DefaultICEFailedTimeout        = 6 * time.Second
	DefaultICEKeepaliveInterval    = time.Second
	DefaultConnectTimeout          = 30 * time.Second
	DefaultNegotiationDelay        = 50 * time.Millisecond
	DefaultAnswerTimeout           = 15 * time.Second
	DefaultTURNCredentialTTL       = 6 * time.Hour

	// MaxSDPBytes bounds a session description accepted from a client.
	MaxSDPBytes = 64 << 10
	// MaxIDBytes bounds room and participant IDs.
	MaxIDBytes = 128
	// maxCandidateBytes bounds one ICE candidate line from a client.
	maxCandidateBytes = 1024
	// maxBufferedCandidates bounds candidates held before the first offer.
	maxBufferedCandidates = 64
	// gatherTimeout bounds the wait for local candidates before an SDP is
	// returned. With the UDP mux all candidates are host candidates, which
	// gather in well under a millisecond.
	gatherTimeout = 2 * time.Second
)

// Config configures an SFU. The zero value is usable for tests on a machine
// with a non-loopback interface; production sets UDPPort to DefaultUDPPort.
type Config struct {
	// UDPPort is the one UDP port all peers' media use (ICE UDP mux), bound
	// on every admitted interface address. Zero picks a free port per
	// address, which suits tests; pass DefaultUDPPort in production.
	UDPPort int
	// PublicIP, when set, replaces the local address in the SFU's host
	// candidates: for a host behind 1:1 NAT. The TURN relay maps it back to
	// the local media address.
	PublicIP string
	// Interfaces admits only these interface names for media. Empty admits
	// every interface.
	Interfaces []string
	// AllowLoopback includes loopback addresses in media candidates (tests).
	AllowLoopback bool
	// NetworkTypes lists the ICE network types; only UDP types are allowed.
	// Default UDP4 and UDP6.
	NetworkTypes []webrtc.NetworkType

	// TURN configures the embedded TURN server. It is off when both listen
	// addresses are empty.
	TURN TURNConfig

	// Limits. Zero means the Default... constant.
	MaxRooms                int
	MaxParticipantsPerRoom  int
	MaxTracksPerParticipant int
	// MaxTracksPerRoom bounds tracks published in one room. Zero means
	// MaxParticipantsPerRoom * MaxTracksPerParticipant.
	MaxTracksPerRoom int

	// ICE timeouts: a peer is disconnected after ICEDisconnectedTimeout
	// without traffic and dropped after ICEFailedTimeout; keepalives go out
	// every ICEKeepaliveInterval.
	ICEDisconnectedTimeout time.Duration
	ICEFailedTimeout       time.Duration
	ICEKeepaliveInterval   time.Duration
	// ConnectTimeout drops a peer that has not connected this long after Join.
	ConnectTimeout time.Duration
	// NegotiationDelay is how long the SFU gathers track changes before it
	// sends one renegotiation offer.
	NegotiationDelay time.Duration
	// AnswerTimeout drops a peer that has not answered an SFU offer this long
	// after it was sent.
	AnswerTimeout time.Duration
	// KeyframeInterval is the minimum time between two keyframe requests
	// (PLI) sent to a publisher for one track. Default keyframe.DefaultInterval.
	KeyframeInterval time.Duration

	// Logger receives lifecycle messages. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the SFU's Prometheus metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// TURNConfig configures the embedded TURN server.
type TURNConfig struct {
	// UDPAddr and TCPAddr are listen addresses ("host:port") for TURN over
	// UDP and TCP. Both empty disables TURN.
	UDPAddr string
	TCPAddr string
	// Host is the host name or IP put into the TURN URLs handed to clients.
	// Default PublicIP, else the listen host, else the first media address.
	Host string
	// Realm is the TURN realm. Default "bedside".
	Realm string
	// Secret is the TURN REST API shared secret (at least 16 bytes). Nil
	// generates a random one at start.
	Secret []byte
	// CredentialTTL is the lifetime of credentials from TURNCredentials.
	// Default DefaultTURNCredentialTTL.
	CredentialTTL time.Duration
	// MaxAllocationsPerParticipant bounds concurrent relay allocations per
	// participant ID. Default 8.
	MaxAllocationsPerParticipant int
}

// Enabled reports whether TURN is configured.
func (t TURNConfig) Enabled() bool {
	return t.UDPAddr != "" || t.TCPAddr != ""
}

func (c *Config) applyDefaults() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.NetworkTypes) == 0 {
		c.NetworkTypes = []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	}
	for _, nt := range c.NetworkTypes {
		if nt != webrtc.NetworkTypeUDP4 && nt != webrtc.NetworkTypeUDP6 {
			return fmt.Errorf("sfu: network type %s is not supported, use udp4 or udp6", nt)
		}
	}
	if c.UDPPort < 0 || c.UDPPort > 65535 {
		return fmt.Errorf("sfu: UDP port %d out of range 0-65535", c.UDPPort)
	}
	if c.PublicIP != "" && net.ParseIP(c.PublicIP) == nil {
		return fmt.Errorf("sfu: public IP %q is not an IP address", c.PublicIP)
	}
	setDefault(&c.MaxRooms, DefaultMaxRooms)
	setDefault(&c.MaxParticipantsPerRoom, DefaultMaxParticipantsPerRoom)
	setDefault(&c.MaxTracksPerParticipant, DefaultMaxTracksPerParticipant)
	setDefault(&c.MaxTracksPerRoom, c.MaxParticipantsPerRoom*c.MaxTracksPerParticipant)
	setDefault(&c.ICEDisconnectedTimeout, DefaultICEDisconnectedTimeout)
	setDefault(&c.ICEFailedTimeout, DefaultICEFailedTimeout)
	setDefault(&c.ICEKeepaliveInterval, DefaultICEKeepaliveInterval)
	setDefault(&c.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&c.NegotiationDelay, DefaultNegotiationDelay)
	setDefault(&c.AnswerTimeout, DefaultAnswerTimeout)
	setDefault(&c.KeyframeInterval, keyframe.DefaultInterval)
	setDefault(&c.TURN.CredentialTTL, DefaultTURNCredentialTTL)
	return nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
