package turnrelay

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/sfu/internal/pionlog"
)

// Defaults for Config fields left zero.
const (
	DefaultRealm                 = "bedside"
	DefaultMaxTTL                = 12 * time.Hour
	DefaultMaxAllocationsPerUser = 8
)

// Config configures a Server.
type Config struct {
	// UDPAddr and TCPAddr are the listen addresses for TURN over UDP and TCP
	// ("host:port"; port 0 picks a free port). An empty address disables that
	// transport; at least one must be set.
	UDPAddr string
	TCPAddr string

	// Realm is the TURN realm. Default DefaultRealm.
	Realm string
	// Secret is the shared secret for TURN REST API credentials, at least 16
	// bytes. When nil, New generates a random 32-byte secret, so only this
	// process can issue credentials.
	Secret []byte
	// MaxTTL is the longest credential lifetime accepted. Default DefaultMaxTTL.
	MaxTTL time.Duration
	// MaxAllocationsPerUser bounds concurrent allocations per user ID.
	// Default DefaultMaxAllocationsPerUser.
	MaxAllocationsPerUser int

	// RelayIP is the address relay sockets bind to. It must be able to reach
	// the Local address of every target; an address of the media sockets is
	// the natural choice.
	RelayIP netip.Addr
	// Targets are the SFU media addresses relays may reach. Nothing else is
	// reachable through the relay.
	Targets []Target

	// Logger receives lifecycle and rejection messages. Nil discards them.
	Logger *slog.Logger
}

// Server is a running TURN server. Its methods are safe for concurrent use.
type Server struct {
	log     *slog.Logger
	secret  []byte
	maxTTL  time.Duration
	now     func() time.Time
	targets targets
	rec     peerRecorder
	dropped atomic.Uint64
	denied  atomic.Uint64
	// warnings rate-limits rejection warnings, which any client can
	// trigger; Stats counts every rejection.
	warnings *rate.Limiter

	udp net.PacketConn
	tcp net.Listener
	srv *turn.Server

	maxAllocs int
	mu        sync.Mutex
	allocs    map[string]int
}

// New starts a TURN server.
func New(cfg Config) (*Server, error) {
	if cfg.UDPAddr == "" && cfg.TCPAddr == "" {
		return nil, ErrNoListener
	}
	if len(cfg.Targets) == 0 {
		return nil, ErrNoTargets
	}
	s := &Server{
		log:       cfg.Logger,
		secret:    cfg.Secret,
		maxTTL:    cfg.MaxTTL,
		now:       time.Now,
		targets:   newTargets(cfg.Targets),
		maxAllocs: cfg.MaxAllocationsPerUser,
		allocs:    make(map[string]int),
		warnings:  rate.NewLimiter(rate.Every(time.Second), 10),
	}
	if err := s.applyDefaults(cfg); err != nil {
		return nil, err
	}
	gen := &relayGenerator{ip: cfg.RelayIP.Unmap(), targets: s.targets, dropped: &s.dropped}
	if err := gen.Validate(); err != nil {
		return nil, err
	}
	if err := s.listen(cfg); err != nil {
		return nil, err
	}

	sc := turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.authenticate,
		QuotaHandler:  s.quota,
		LoggerFactory: pionlog.Factory{Logger: s.log},
		EventHandler: turn.EventHandler{
			OnAllocationCreated: s.allocationCreated,
			OnAllocationDeleted: s.allocationDeleted,
		},
	}
	if sc.Realm == "" {
		sc.Realm = DefaultRealm
	}
	if s.udp != nil {
		sc.PacketConnConfigs = []turn.PacketConnConfig{{
			PacketConn:            &recordingPacketConn{PacketConn: s.udp, rec: &s.rec},
			RelayAddressGenerator: gen,
			PermissionHandler:     s.permit,
		}}
	}
	if s.tcp != nil {
		sc.ListenerConfigs = []turn.ListenerConfig{{
			Listener:              &recordingListener{Listener: s.tcp, rec: &s.rec},
			RelayAddressGenerator: gen,
			PermissionHandler:     s.permit,
		}}
	}
	srv, err := turn.NewServer(sc)
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("turn: start server: %w", err)
	}
	s.srv = srv
	s.log.Info("turn server started", "udp", addrString(s.UDPAddr()), "tcp", addrString(s.TCPAddr()),
		"relay_ip", gen.ip.String())
	return s, nil
}

func (s *Server) applyDefaults(cfg Config) error {
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxTTL <= 0 {
		s.maxTTL = DefaultMaxTTL
	}
	if s.maxAllocs <= 0 {
		s.maxAllocs = DefaultMaxAllocationsPerUser
	}
	if s.secret == nil {
		s.secret = make([]byte, 32)
		if _, err := rand.Read(s.secret); err != nil {
			return fmt.Errorf("turn: generate secret: %w", err)
		}
	}
	if len(s.secret) < 16 {
		return ErrShortSecret
	}
	return nil
}

func (s *Server) listen(cfg Config) error {
	if cfg.UDPAddr != "" {
		c, err := net.ListenPacket("udp", cfg.UDPAddr)
		if err != nil {
			return fmt.Errorf("turn: listen udp %s: %w", cfg.UDPAddr, err)
		}
		s.udp = c
	}
	if cfg.TCPAddr != "" {
		l, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("turn: listen tcp %s: %w", cfg.TCPAddr, err)
		}
		s.tcp = l
	}
	return nil
}

func (s *Server) closeListeners() {
	if s.udp != nil {
		_ = s.udp.Close()
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
}

// Close stops the server and releases every allocation.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.log.Info("turn server stopped")
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("turn: close: %w", err)
	}
	return nil
}

// UDPAddr returns the UDP listen address, or nil when UDP is disabled.
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr returns the TCP listen address, or nil when TCP is disabled.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Credentials returns credentials for userID valid for ttl (capped at the
// configured MaxTTL).
func (s *Server) Credentials(userID string, ttl time.Duration) (username, password string) {
	if ttl <= 0 || ttl > s.maxTTL {
		ttl = s.maxTTL
	}
	return Credentials(s.secret, userID, s.now().Add(ttl))
}

// Stats returns counts of rejected permissions and dropped relay datagrams.
func (s *Server) Stats() Stats {
	return Stats{
		DeniedPermissions: s.denied.Load(),
		DroppedDatagrams:  s.dropped.Load(),
		Allocations:       s.srv.AllocationCount(),
	}
}

// Stats holds counters of a Server.
type Stats struct {
	// DeniedPermissions counts CreatePermission, ChannelBind and Connect
	// peer addresses rejected because they are not SFU media addresses.
	DeniedPermissions uint64
	// DroppedDatagrams counts relay datagrams dropped because their peer is
	// not an SFU media address.
	DroppedDatagrams uint64
	// Allocations is the number of live allocations.
	Allocations int
}

// permit implements turn.PermissionHandler with the recorded peer address.
func (s *Server) permit(client net.Addr, peerIP net.IP) bool {
	peer, ok := s.rec.next(client)
	ip, _ := netip.AddrFromSlice(peerIP)
	reason := ""
	switch {
	case !ok:
		reason = "no recorded peer address"
	case peer.Addr() != ip.Unmap():
		reason = "peer address mismatch"
	default:
		if _, allowed := s.targets.byAdvertised[peer]; allowed {
			return true
		}
		reason = "peer is not an SFU media address"
	}
	s.denied.Add(1)
	s.warn("turn permission rejected", "reason", reason, "client", client.String(),
		"peer", peer.String(), "peer_ip", ip.String())
	return false
}

// warn logs a client-triggered rejection unless too many were logged lately.
func (s *Server) warn(msg string, args ...any) {
	if s.warnings.Allow() {
		s.log.Warn(msg, args...)
	}
}

// quota implements turn.QuotaHandler. Pion passes the user ID returned by
// authenticate, not the raw username.
func (s *Server) quota(userID, _ string, client net.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.allocs[userID] >= s.maxAllocs {
		s.warn("turn allocation rejected: quota reached", "user", userID, "client", client.String(),
			"max", s.maxAllocs)
		return false
	}
	return true
}

func (s *Server) allocationCreated(client, _ net.Addr, _, userID, _ string, relay net.Addr, _ int) {
	s.mu.Lock()
	s.allocs[userID]++
	s.mu.Unlock()
	s.log.Debug("turn allocation created", "user", userID, "client", client.String(), "relay", relay.String())
}

func (s *Server) allocationDeleted(client, _ net.Addr, _, userID, _ string) {
	s.mu.Lock()
	if s.allocs[userID] <= 1 {
		delete(s.allocs, userID)
	} else {
		s.allocs[userID]--
	}
	s.mu.Unlock()
	s.log.Debug("turn allocation deleted", "user", userID, "client", client.String())
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
