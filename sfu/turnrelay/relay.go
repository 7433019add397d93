package turnrelay

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pion/turn/v5"
)

// Target is one media address of the SFU that relays may reach.
type Target struct {
	// Advertised is the address a client sees in the SFU's ICE candidates
	// and names in CreatePermission (a public address under 1:1 NAT).
	Advertised netip.AddrPort
	// Local is where the relay delivers datagrams for Advertised. It equals
	// Advertised unless the SFU sits behind 1:1 NAT.
	Local netip.AddrPort
}

// targets maps advertised to local addresses. It is read-only after New.
type targets struct {
	byAdvertised map[netip.AddrPort]netip.AddrPort
	byLocal      map[netip.AddrPort]netip.AddrPort
}

func newTargets(list []Target) targets {
	t := targets{
		byAdvertised: make(map[netip.AddrPort]netip.AddrPort, len(list)),
		byLocal:      make(map[netip.AddrPort]netip.AddrPort, len(list)),
	}
	for _, tg := range list {
		adv, local := unmap(tg.Advertised), unmap(tg.Local)
		t.byAdvertised[adv] = local
		if _, dup := t.byLocal[local]; !dup {
			t.byLocal[local] = adv
		}
	}
	return t
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func addrPortOf(addr net.Addr) (netip.AddrPort, bool) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	return unmap(ua.AddrPort()), true
}

// relayGenerator implements turn.RelayAddressGenerator with UDP sockets that
// talk only to the targets.
type relayGenerator struct {
	ip      netip.Addr
	targets targets
	dropped *atomic.Uint64
}

func (g *relayGenerator) Validate() error {
	if !g.ip.IsValid() {
		return fmt.Errorf("turn: invalid relay address %v", g.ip)
	}
	return nil
}

func (g *relayGenerator) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	network := "udp4"
	if g.ip.Is6() {
		network = "udp6"
	}
	if conf.Network != network {
		return nil, nil, fmt.Errorf("turn: relay network %s is not served, only %s", conf.Network, network)
	}
	addr := net.JoinHostPort(g.ip.String(), strconv.Itoa(conf.RequestedPort))
	conn, err := net.ListenPacket(network, addr) // #nosec G102 -- bound to the configured relay address only.
	if err != nil {
		return nil, nil, fmt.Errorf("turn: listen for relay on %s: %w", addr, err)
	}
	rc := &relayConn{PacketConn: conn, targets: g.targets, dropped: g.dropped}
	return rc, conn.LocalAddr(), nil
}

func (g *relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, ErrTCPRelayUnsupported
}

func (g *relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, ErrTCPRelayUnsupported
}

// relayConn is the relay socket of one allocation. It translates advertised
// target addresses to local ones and drops traffic to or from any other
// address.
type relayConn struct {
	net.PacketConn
	targets targets
	dropped *atomic.Uint64

	mu sync.Mutex
	// lastAdvertised remembers which advertised address the client used for
	// each local target, so replies carry the address the client expects.
	lastAdvertised map[netip.AddrPort]netip.AddrPort
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	peer, ok := addrPortOf(addr)
	if !ok {
		c.dropped.Add(1)
		return 0, fmt.Errorf("%w: %v", ErrPeerNotAllowed, addr)
	}
	local, ok := c.targets.byAdvertised[peer]
	if !ok {
		c.dropped.Add(1)
		return 0, fmt.Errorf("%w: %v", ErrPeerNotAllowed, peer)
	}
	if local != peer {
		c.mu.Lock()
		if c.lastAdvertised == nil {
			c.lastAdvertised = make(map[netip.AddrPort]netip.AddrPort, 1)
		}
		c.lastAdvertised[local] = peer
		c.mu.Unlock()
	}
	return c.PacketConn.WriteTo(p, net.UDPAddrFromAddrPort(local))
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		from, ok := addrPortOf(addr)
		if !ok {
			c.dropped.Add(1)
			continue
		}
		if adv, ok := c.advertisedFor(from); ok {
			return n, net.UDPAddrFromAddrPort(adv), nil
		}
		c.dropped.Add(1)
	}
}

// advertisedFor maps a local source address back to the advertised address
// the client knows it by.
func (c *relayConn) advertisedFor(local netip.AddrPort) (netip.AddrPort, bool) {
	c.mu.Lock()
	adv, ok := c.lastAdvertised[local]
	c.mu.Unlock()
	if ok {
		return adv, true
	}
	adv, ok = c.targets.byLocal[local]
	return adv, ok
}
