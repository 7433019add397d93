package turnrelay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestCredentialsVector(t *testing.T) {
	// Expected password computed independently with Python:
	// base64(hmac.new(secret, username, hashlib.sha1).digest()).
	user, pass := Credentials([]byte("0123456789abcdef-shared"), "alice", time.Unix(1700000000, 0))
	if user != "1700000000:alice" {
		t.Errorf("got username %q, want %q", user, "1700000000:alice")
	}
	if want := "TKdZKEkthk+YGeyP+0faMjLZKgI="; pass != want {
		t.Errorf("got password %q, want %q", pass, want)
	}
}

func TestParseUsername(t *testing.T) {
	tests := []struct {
		in     string
		wantID string
		wantOK bool
	}{
		{"1700000000:alice", "alice", true},
		{"1700000000:a:b", "a:b", true},
		{"1700000000", "", false},
		{"1700000000:", "", false},
		{"soon:alice", "", false},
		{"-5:alice", "", false},
		{"", "", false},
		{"1:" + string(bytes.Repeat([]byte("x"), maxUsernameLen)), "", false},
	}
	for _, tt := range tests {
		_, id, ok := parseUsername(tt.in)
		if ok != tt.wantOK || id != tt.wantID {
			t.Errorf("parseUsername(%.20q): got (%q, %v), want (%q, %v)", tt.in, id, ok, tt.wantID, tt.wantOK)
		}
	}
}

// echoSocket is a UDP socket that stands for the SFU's media port: it echoes
// every datagram back to its sender.
func echoSocket(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteTo(buf[:n], from)
		}
	}()
	return c
}

// bystander is a UDP socket that must never receive anything.
type bystander struct {
	conn *net.UDPConn
}

func newBystander(t *testing.T, ip string) *bystander {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &bystander{conn: c}
}

func (b *bystander) addr() *net.UDPAddr { return b.conn.LocalAddr().(*net.UDPAddr) }

func (b *bystander) assertSilent(t *testing.T) {
	t.Helper()
	_ = b.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1500)
	if n, from, err := b.conn.ReadFrom(buf); err == nil {
		t.Errorf("bystander %v got %d bytes from %v, want nothing", b.addr(), n, from)
	}
}

func startServer(t *testing.T, media *net.UDPConn, mutate func(*Config)) *Server {
	t.Helper()
	target := media.LocalAddr().(*net.UDPAddr).AddrPort()
	cfg := Config{
		UDPAddr: "127.0.0.1:0",
		TCPAddr: "127.0.0.1:0",
		RelayIP: netip.MustParseAddr("127.0.0.1"),
		Targets: []Target{{Advertised: target, Local: target}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type turnClient struct {
	client *turn.Client
	relay  net.PacketConn
}

// dialTURN connects a Pion TURN client over UDP or TCP and allocates a relay.
func dialTURN(t *testing.T, s *Server, network, user, pass string) (*turnClient, error) {
	t.Helper()
	var conn net.PacketConn
	var serverAddr string
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen client: %v", err)
		}
		conn, serverAddr = c, s.UDPAddr().String()
	case "tcp":
		c, err := net.Dial("tcp4", s.TCPAddr().String())
		if err != nil {
			t.Fatalf("dial turn over tcp: %v", err)
		}
		conn, serverAddr = turn.NewSTUNConn(c), s.TCPAddr().String()
	}
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: serverAddr,
		TURNServerAddr: serverAddr,
		Conn:           conn,
		Username:       user,
		Password:       pass,
		Realm:          DefaultRealm,
	})
	if err != nil {
		_ = conn.Close()
		t.Fatalf("new turn client: %v", err)
	}
	if err := client.Listen(); err != nil {
		client.Close()
		_ = conn.Close()
		t.Fatalf("turn client listen: %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		_ = conn.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	relay, err := client.AllocateWithContext(ctx)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = relay.Close() })
	return &turnClient{client: client, relay: relay}, nil
}

func TestRelayReachesOnlyMediaAddress(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			media := echoSocket(t, "127.0.0.1")
			s := startServer(t, media, nil)
			user, pass := s.Credentials("alice", time.Minute)
			tc, err := dialTURN(t, s, network, user, pass)
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}

			samePort := newBystander(t, "127.0.0.1")
			otherIP := newBystander(t, "127.0.0.2")
			forbidden := []net.Addr{
				samePort.addr(),
				otherIP.addr(),
				&net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 9},
				&net.UDPAddr{IP: net.ParseIP("10.0.0.1"), Port: media.LocalAddr().(*net.UDPAddr).Port},
				&net.UDPAddr{IP: net.ParseIP("192.168.1.1"), Port: 3478},
				&net.UDPAddr{IP: net.ParseIP("169.254.169.254"), Port: 80},
				&net.UDPAddr{IP: net.ParseIP("8.8.8.8"), Port: 53},
			}
			for _, addr := range forbidden {
				if err := tc.client.CreatePermission(addr); err == nil {
					t.Errorf("CreatePermission(%v): got nil error, want a rejection", addr)
				}
			}
			// Sending to a loopback bystander makes the client ask for a
			// permission (rejected) and must deliver nothing.
			_, _ = tc.relay.WriteTo([]byte("probe"), samePort.addr())
			_, _ = tc.relay.WriteTo([]byte("probe"), otherIP.addr())

			mediaAddr := media.LocalAddr()
			if err := tc.client.CreatePermission(mediaAddr); err != nil {
				t.Fatalf("CreatePermission(%v): got %v, want nil", mediaAddr, err)
			}
			if _, err := tc.relay.WriteTo([]byte("hello sfu"), mediaAddr); err != nil {
				t.Fatalf("relay write to media address: %v", err)
			}
			_ = tc.relay.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 1500)
			n, from, err := tc.relay.ReadFrom(buf)
			if err != nil {
				t.Fatalf("relay read echo: %v", err)
			}
			if got := string(buf[:n]); got != "hello sfu" {
				t.Errorf("got echo %q, want %q", got, "hello sfu")
			}
			if from.String() != mediaAddr.String() {
				t.Errorf("got echo from %v, want %v", from, mediaAddr)
			}

			samePort.assertSilent(t)
			otherIP.assertSilent(t)
			if got := s.Stats().DeniedPermissions; got < uint64(len(forbidden)) {
				t.Errorf("got %d denied permissions, want at least %d", got, len(forbidden))
			}
		})
	}
}

func TestAllocateRejectsBadCredentials(t *testing.T) {
	media := echoSocket(t, "127.0.0.1")
	s := startServer(t, media, nil)
	user, pass := s.Credentials("alice", time.Minute)
	expiredUser, expiredPass := Credentials(s.secret, "alice", time.Now().Add(-time.Second))
	longUser, longPass := Credentials(s.secret, "alice", time.Now().Add(DefaultMaxTTL+time.Hour))
	otherUser, otherPass := Credentials([]byte("another-secret-of-16+"), "alice", time.Now().Add(time.Minute))

	tests := []struct {
		name       string
		user, pass string
	}{
		{"wrong password", user, pass + "x"},
		{"expired", expiredUser, expiredPass},
		{"lifetime over maximum", longUser, longPass},
		{"other secret", otherUser, otherPass},
		{"malformed username", "alice", pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := dialTURN(t, s, "udp", tt.user, tt.pass); err == nil {
				t.Errorf("allocate with %s credentials: got nil error, want a rejection", tt.name)
			}
		})
	}
}

func TestAllocationQuota(t *testing.T) {
	media := echoSocket(t, "127.0.0.1")
	s := startServer(t, media, func(c *Config) { c.MaxAllocationsPerUser = 1 })
	user, pass := s.Credentials("alice", time.Minute)
	if _, err := dialTURN(t, s, "udp", user, pass); err != nil {
		t.Fatalf("first allocation: %v", err)
	}
	if _, err := dialTURN(t, s, "udp", user, pass); err == nil {
		t.Errorf("second allocation for one user: got nil error, want quota rejection")
	}
	bobUser, bobPass := s.Credentials("bob", time.Minute)
	if _, err := dialTURN(t, s, "udp", bobUser, bobPass); err != nil {
		t.Errorf("allocation for another user: got %v, want nil", err)
	}
}

func TestRelayConnTranslatesPublicAddress(t *testing.T) {
	media := echoSocket(t, "127.0.0.1")
	local := media.LocalAddr().(*net.UDPAddr).AddrPort()
	public := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.7"), local.Port())
	var dropped atomicCounter
	g := &relayGenerator{
		ip:      netip.MustParseAddr("127.0.0.1"),
		targets: newTargets([]Target{{local, local}, {public, local}}),
		dropped: &dropped.v,
	}
	conn, _, err := g.AllocatePacketConn(turn.AllocateListenerConfig{Network: "udp4"})
	if err != nil {
		t.Fatalf("allocate relay socket: %v", err)
	}
	defer conn.Close()

	if _, err := conn.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(public)); err != nil {
		t.Fatalf("write to public address: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64)
	_, from, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if from.String() != public.String() {
		t.Errorf("got echo from %v, want the public address %v", from, public)
	}

	blocked := netip.MustParseAddrPort("127.0.0.1:9")
	if _, err := conn.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(blocked)); !errors.Is(err, ErrPeerNotAllowed) {
		t.Errorf("write to %v: got %v, want ErrPeerNotAllowed", blocked, err)
	}
	if got := dropped.v.Load(); got != 1 {
		t.Errorf("got %d dropped datagrams, want 1", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	target := netip.MustParseAddrPort("127.0.0.1:7881")
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no listener", Config{Targets: []Target{{target, target}}, RelayIP: target.Addr()}, ErrNoListener},
		{"no targets", Config{UDPAddr: "127.0.0.1:0", RelayIP: target.Addr()}, ErrNoTargets},
		{"short secret", Config{UDPAddr: "127.0.0.1:0", Secret: []byte("short"), RelayIP: target.Addr(),
			Targets: []Target{{target, target}}}, ErrShortSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if err == nil {
				_ = s.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

type atomicCounter struct{ v atomic.Uint64 }
