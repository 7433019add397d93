package turnrelay

import (
	"net"
	"net/netip"
	"sync"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

// maxPendingClients bounds the peer-address records kept for requests that
// Pion has not yet passed to the permission hook (for example requests that
// fail authentication and never reach it). Past the bound the records are
// dropped, and the hook then rejects, so the bound fails closed.
const maxPendingClients = 4096

// peerRecorder remembers, per client transport address, the XOR-PEER-ADDRESS
// values of the permission-bearing request being handled. Pion reads and
// handles one request at a time per socket (per TCP connection for TCP), and
// calls the permission hook once per XOR-PEER-ADDRESS in attribute order, so
// the hook consumes the recorded addresses in that order.
type peerRecorder struct {
	mu      sync.Mutex
	pending map[string][]netip.AddrPort
}

// inspect records the peer addresses of a CreatePermission, ChannelBind or
// Connect request in b, received from client. Other datagrams are ignored.
func (r *peerRecorder) inspect(b []byte, client net.Addr) {
	if !stun.IsMessage(b) {
		return
	}
	var t stun.MessageType
	t.ReadValue(uint16(b[0])<<8 | uint16(b[1]))
	if t.Class != stun.ClassRequest {
		return
	}
	switch t.Method {
	case stun.MethodCreatePermission, stun.MethodChannelBind, stun.MethodConnect:
	default:
		return
	}

	m := &stun.Message{Raw: append([]byte(nil), b...)}
	var peers []netip.AddrPort
	if err := m.Decode(); err == nil {
		peers = peerAddresses(m)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil || len(r.pending) >= maxPendingClients {
		r.pending = make(map[string][]netip.AddrPort)
	}
	r.pending[client.String()] = peers
}

// peerAddresses decodes every XOR-PEER-ADDRESS attribute of m in order. An
// attribute that fails to decode yields an invalid address, which no target
// matches.
func peerAddresses(m *stun.Message) []netip.AddrPort {
	var peers []netip.AddrPort
	for _, a := range m.Attributes {
		if a.Type != stun.AttrXORPeerAddress {
			continue
		}
		one := &stun.Message{TransactionID: m.TransactionID}
		one.Add(stun.AttrXORPeerAddress, a.Value)
		var xa stun.XORMappedAddress
		if err := xa.GetFromAs(one, stun.AttrXORPeerAddress); err != nil {
			peers = append(peers, netip.AddrPort{})
			continue
		}
		ip, _ := netip.AddrFromSlice(xa.IP)
		peers = append(peers, netip.AddrPortFrom(ip.Unmap(), uint16(xa.Port)))
	}
	return peers
}

// next pops the next recorded peer address for client.
func (r *peerRecorder) next(client net.Addr) (netip.AddrPort, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := client.String()
	peers := r.pending[key]
	if len(peers) == 0 {
		delete(r.pending, key)
		return netip.AddrPort{}, false
	}
	if len(peers) == 1 {
		delete(r.pending, key)
	} else {
		r.pending[key] = peers[1:]
	}
	return peers[0], true
}

// recordingPacketConn records permission requests arriving over UDP before
// Pion reads them.
type recordingPacketConn struct {
	net.PacketConn
	rec *peerRecorder
}

func (c *recordingPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err == nil {
		c.rec.inspect(p[:n], addr)
	}
	return n, addr, err
}

// recordingListener wraps accepted TCP connections so permission requests are
// recorded before Pion reads them.
type recordingListener struct {
	net.Listener
	rec *peerRecorder
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingStreamConn{Conn: c, frames: turn.NewSTUNConn(c), rec: l.rec}, nil
}

// maxStreamFrame is the largest TURN frame read from a TCP connection. Pion's
// server drops frames over its 1600-byte inbound MTU anyway.
const maxStreamFrame = 2048

// recordingStreamConn splits the TCP byte stream into TURN frames (with Pion's
// own framing), records each one, and hands the bytes on unchanged.
type recordingStreamConn struct {
	net.Conn
	frames *turn.STUNConn
	rec    *peerRecorder

	buf  [maxStreamFrame]byte
	rest []byte
}

func (c *recordingStreamConn) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		n, _, err := c.frames.ReadFrom(c.buf[:])
		if err != nil {
			return 0, err
		}
		c.rec.inspect(c.buf[:n], c.Conn.RemoteAddr())
		c.rest = c.buf[:n]
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}
