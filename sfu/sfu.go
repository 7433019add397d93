package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/sfu/internal/pionlog"
	"github.com/bedside-health/bedside/sfu/turnrelay"
)

// SFU forwards media between the participants of each room. Its methods are
// safe for concurrent use.
type SFU struct {
	cfg  Config
	log  *slog.Logger
	api  *webrtc.API
	mux  *ice.MultiUDPMuxDefault
	turn *turnrelay.Server
	m    counters

	// wg counts goroutines the SFU starts (track readers, RTCP readers).
	wg sync.WaitGroup

	mu     sync.Mutex
	closed bool
	rooms  map[string]*room
}

// New binds the media port, starts TURN when configured and returns a
// running SFU. Close releases both.
func New(cfg Config) (*SFU, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	s := &SFU{cfg: cfg, log: cfg.Logger, rooms: make(map[string]*room)}
	lf := pionlog.Factory{Logger: cfg.Logger}

	mux, err := newMux(&s.cfg, lf)
	if err != nil {
		return nil, err
	}
	s.mux = mux
	if s.api, err = newAPI(&s.cfg, mux, lf); err != nil {
		_ = mux.Close()
		return nil, err
	}
	if cfg.TURN.Enabled() {
		if s.turn, err = startTURN(&s.cfg, mediaAddrs(mux)); err != nil {
			_ = mux.Close()
			return nil, err
		}
	}
	if err := s.m.register(cfg.Registerer); err != nil {
		s.closeTransports()
		return nil, fmt.Errorf("sfu: register metrics: %w", err)
	}
	s.log.Info("sfu started", "media", fmt.Sprint(mediaAddrs(mux)), "public_ip", cfg.PublicIP,
		"turn", cfg.TURN.Enabled())
	return s, nil
}

func startTURN(cfg *Config, media []netip.AddrPort) (*turnrelay.Server, error) {
	relayIP, targets := turnTargets(media, cfg.PublicIP)
	if !relayIP.IsValid() {
		return nil, fmt.Errorf("sfu: no IPv4 media address for the TURN relay: %w", ErrNoMediaAddress)
	}
	srv, err := turnrelay.New(turnrelay.Config{
		UDPAddr:               cfg.TURN.UDPAddr,
		TCPAddr:               cfg.TURN.TCPAddr,
		Realm:                 cfg.TURN.Realm,
		Secret:                cfg.TURN.Secret,
		MaxTTL:                cfg.TURN.CredentialTTL,
		MaxAllocationsPerUser: cfg.TURN.MaxAllocationsPerParticipant,
		RelayIP:               relayIP,
		Targets:               targets,
		Logger:                cfg.Logger.With("component", "turn"),
	})
	if err != nil {
		return nil, fmt.Errorf("sfu: start TURN: %w", err)
	}
	return srv, nil
}

// turnTargets picks the relay bind address, the first IPv4 media address,
// because relays serve IPv4 only. It also lists the media addresses relays
// may reach, with the public address mapped to the local one under 1:1 NAT.
func turnTargets(media []netip.AddrPort, publicIP string) (netip.Addr, []turnrelay.Target) {
	var relayIP netip.Addr
	var targets []turnrelay.Target
	public, _ := netip.ParseAddr(publicIP)
	for _, ap := range media {
		if !ap.Addr().Is4() {
			continue
		}
		if !relayIP.IsValid() {
			relayIP = ap.Addr()
		}
		targets = append(targets, turnrelay.Target{Advertised: ap, Local: ap})
		if public.IsValid() {
			pub := netip.AddrPortFrom(public.Unmap(), ap.Port())
			targets = append(targets, turnrelay.Target{Advertised: pub, Local: ap})
		}
	}
	return relayIP, targets
}

// Close drops every peer, waits for the SFU's goroutines and releases the
// media port and TURN listeners. Peers' Signaler.Closed receives ErrClosed.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var peers []*Peer
	for _, r := range s.rooms {
		peers = append(peers, r.peerList()...)
	}
	s.mu.Unlock()

	for _, p := range peers {
		p.closeWith(ErrClosed)
	}
	s.wg.Wait()
	err := s.closeTransports()
	s.m.unregister()
	s.log.Info("sfu stopped")
	return err
}

func (s *SFU) closeTransports() error {
	var errs []error
	if s.turn != nil {
		errs = append(errs, s.turn.Close())
	}
	if err := s.mux.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("sfu: close media port: %w", err))
	}
	return errors.Join(errs...)
}

// Join admits participantID to roomID and returns its Peer. The room is
// created on first join. A participant who joins a room it is already in
// replaces its old Peer, whose Signaler.Closed receives ErrReplaced. The
// caller must have authorized the participant for the room.
func (s *SFU) Join(roomID, participantID string, sig Signaler) (*Peer, error) {
	if !validID(roomID) || !validID(participantID) {
		return nil, fmt.Errorf("join room %.32q as %.32q: %w", roomID, participantID, ErrInvalidID)
	}
	if sig == nil {
		return nil, errors.New("sfu: join: nil Signaler")
	}

	r, old, err := s.admit(roomID, participantID)
	if err != nil {
		return nil, fmt.Errorf("join room %s as %s: %w", roomID, participantID, err)
	}
	if old != nil {
		old.closeWith(ErrReplaced)
	}
	p, err := newPeer(s, r, participantID, sig)
	if err != nil {
		r.release(participantID, nil)
		return nil, fmt.Errorf("join room %s as %s: %w", roomID, participantID, err)
	}
	s.mu.Lock()
	closed := s.closed
	if !closed {
		r.attach(p)
	}
	s.mu.Unlock()
	if closed {
		p.closeWith(nil)
		r.release(participantID, nil)
		return nil, fmt.Errorf("join room %s as %s: %w", roomID, participantID, ErrClosed)
	}
	s.log.Info("participant joined", "room", roomID, "participant", participantID)
	return p, nil
}

// admit reserves a seat for participantID in roomID, creating the room when
// needed. It returns the participant's current peer, if any, to be replaced.
func (s *SFU) admit(roomID, participantID string) (*room, *Peer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	r := s.rooms[roomID]
	if r == nil {
		if len(s.rooms) >= s.cfg.MaxRooms {
			return nil, nil, ErrTooManyRooms
		}
		r = newRoom(s, roomID)
		s.rooms[roomID] = r
		s.m.rooms.Add(1)
	}
	old, err := r.reserve(participantID, s.cfg.MaxParticipantsPerRoom)
	return r, old, err
}

// releaseRoom removes r when it has no participant left.
func (s *SFU) releaseRoom(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.id] == r && r.empty() {
		delete(s.rooms, r.id)
		s.m.rooms.Add(-1)
		s.log.Info("room released", "room", r.id)
	}
}

// TURNCredentials returns TURN REST API credentials for participantID, or
// false when TURN is off. Hand them to the client at join.
func (s *SFU) TURNCredentials(participantID string) (TURNCredentials, bool) {
	if s.turn == nil {
		return TURNCredentials{}, false
	}
	user, pass := s.turn.Credentials(participantID, s.cfg.TURN.CredentialTTL)
	return TURNCredentials{
		URLs:       s.turnURLs(),
		Username:   user,
		Credential: pass,
		TTL:        s.cfg.TURN.CredentialTTL,
	}, true
}

// TURNCredentials holds what a client needs for an RTCIceServer entry.
type TURNCredentials struct {
	URLs       []string
	Username   string
	Credential string
	TTL        time.Duration
}

// LogValue redacts the credential.
func (c TURNCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("urls", c.URLs), slog.String("username", c.Username))
}

func (s *SFU) turnURLs() []string {
	var urls []string
	add := func(addr net.Addr, transport string) {
		if addr == nil {
			return
		}
		_, port, _ := net.SplitHostPort(addr.String())
		urls = append(urls, "turn:"+net.JoinHostPort(s.turnHost(addr), port)+"?transport="+transport)
	}
	add(s.turn.UDPAddr(), "udp")
	add(s.turn.TCPAddr(), "tcp")
	return urls
}

func (s *SFU) turnHost(listen net.Addr) string {
	if s.cfg.TURN.Host != "" {
		return s.cfg.TURN.Host
	}
	if s.cfg.PublicIP != "" {
		return s.cfg.PublicIP
	}
	host, _, _ := net.SplitHostPort(listen.String())
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return host
	}
	for _, ap := range mediaAddrs(s.mux) {
		return ap.Addr().String()
	}
	return host
}

// MediaAddrs returns the local addresses of the media port.
func (s *SFU) MediaAddrs() []netip.AddrPort {
	return mediaAddrs(s.mux)
}

// Stats returns a snapshot of the SFU's counts.
func (s *SFU) Stats() Stats {
	st := s.m.snapshot()
	if s.turn != nil {
		ts := s.turn.Stats()
		st.TURNDeniedPermissions = ts.DeniedPermissions
		st.TURNDroppedDatagrams = ts.DroppedDatagrams
	}
	return st
}

// spawn runs fn in a goroutine that Close waits for. It returns false, and
// does not run fn, once Close has started.
func (s *SFU) spawn(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

func validID(id string) bool {
	return id != "" && len(id) <= MaxIDBytes && strconv.Quote(id) == `"`+id+`"`
}
