package turnrelay

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/stun/v4"
)

func permissionRequest(tb testing.TB, method stun.Method, peers ...netip.AddrPort) []byte {
	tb.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}
	for _, p := range peers {
		xa := stun.XORMappedAddress{IP: p.Addr().AsSlice(), Port: int(p.Port())}
		setters = append(setters, setterFunc(func(m *stun.Message) error {
			return xa.AddToAs(m, stun.AttrXORPeerAddress)
		}))
	}
	m, err := stun.Build(setters...)
	if err != nil {
		tb.Fatalf("build STUN message: %v", err)
	}
	return m.Raw
}

type setterFunc func(*stun.Message) error

func (f setterFunc) AddTo(m *stun.Message) error { return f(m) }

func TestRecorderReturnsPeersInOrder(t *testing.T) {
	client := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	a := netip.MustParseAddrPort("127.0.0.1:7881")
	b := netip.MustParseAddrPort("[2001:db8::1]:9")
	tests := []struct {
		name   string
		method stun.Method
		peers  []netip.AddrPort
		want   []netip.AddrPort
	}{
		{"create permission with two peers", stun.MethodCreatePermission, []netip.AddrPort{a, b}, []netip.AddrPort{a, b}},
		{"channel bind", stun.MethodChannelBind, []netip.AddrPort{b}, []netip.AddrPort{b}},
		{"connect", stun.MethodConnect, []netip.AddrPort{a}, []netip.AddrPort{a}},
		{"allocate is not recorded", stun.MethodAllocate, []netip.AddrPort{a}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r peerRecorder
			r.inspect(permissionRequest(t, tt.method, tt.peers...), client)
			for i, want := range tt.want {
				got, ok := r.next(client)
				if !ok || got != want {
					t.Errorf("peer %d: got (%v, %v), want (%v, true)", i, got, ok, want)
				}
			}
			if got, ok := r.next(client); ok {
				t.Errorf("after the recorded peers: got %v, want nothing", got)
			}
		})
	}
}

func TestRecorderIgnoresOtherTraffic(t *testing.T) {
	client := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	var r peerRecorder
	// ChannelData (channel 0x4000) and a success response are not requests.
	r.inspect([]byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, client)
	resp, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodCreatePermission, stun.ClassSuccessResponse))
	if err != nil {
		t.Fatal(err)
	}
	r.inspect(resp.Raw, client)
	if got, ok := r.next(client); ok {
		t.Errorf("got recorded peer %v, want none", got)
	}
}

func FuzzRecorderInspect(f *testing.F) {
	f.Add(permissionRequest(f, stun.MethodCreatePermission, netip.MustParseAddrPort("127.0.0.1:7881")))
	f.Add(permissionRequest(f, stun.MethodChannelBind, netip.MustParseAddrPort("[::1]:7881")))
	f.Add([]byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4})
	f.Add([]byte{})
	client := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r peerRecorder
		r.inspect(b, client)
		for range 64 {
			if _, ok := r.next(client); !ok {
				return
			}
		}
	})
}
