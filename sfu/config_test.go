package sfu

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func TestNewRejectsBadConfig(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"public IP not an address", func(c *Config) { c.PublicIP = "sfu.example" }, "not an IP address"},
		{"TCP network type", func(c *Config) {
			c.NetworkTypes = []webrtc.NetworkType{webrtc.NetworkTypeTCP4}
		}, "not supported"},
		{"port out of range", func(c *Config) { c.UDPPort = 70000 }, "out of range"},
		{"no admitted interface", func(c *Config) { c.Interfaces = []string{"no-such-if0"} }, "no local address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mutate(&cfg)
			s, err := New(cfg)
			if err == nil {
				_ = s.Close()
				t.Fatalf("got nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestPublicIPInCandidates checks that the SFU advertises its public
// address, with the media port, in place of the local one. The client never
// applies the answer, so nothing is sent to the documentation address.
func TestPublicIPInCandidates(t *testing.T) {
	const public = "203.0.113.7"
	s := startSFU(t, func(c *Config) { c.PublicIP = public })
	p, err := s.Join("r1", "alice", newNopSignaler())
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })

	pc, err := clientAPI(t, nil).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatalf("new peer connection: %v", err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{
		Direction: webrtc.RTPTransceiverDirectionRecvonly,
	}); err != nil {
		t.Fatalf("add transceiver: %v", err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatalf("create offer: %v", err)
	}
	answer, err := p.HandleOffer(offer.SDP)
	if err != nil {
		t.Fatalf("HandleOffer: %v", err)
	}
	port := s.MediaAddrs()[0].Port()
	want := fmt.Sprintf("%s %d typ host", public, port)
	if !strings.Contains(answer, want) {
		t.Errorf("answer has no candidate %q:\n%s", want, answer)
	}
	if strings.Contains(answer, " 127.0.0.1 ") {
		t.Errorf("answer still advertises the local address:\n%s", answer)
	}
}
