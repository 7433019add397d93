package sfu

import (
	"testing"

	"github.com/pion/rtp"
)

const seedOffer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=sendrecv\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n" +
	"m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sendonly\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n"

func TestCountSendingMedia(t *testing.T) {
	sd, err := parseSDP(seedOffer)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	// Audio inherits the session-level sendrecv; recvonly video, rejected
	// video (port 0) and the data channel do not count.
	if got := countSendingMedia(sd); got != 1 {
		t.Errorf("got %d sending sections, want 1", got)
	}
}

// FuzzOfferParsing feeds arbitrary client offers to the checks HandleOffer
// runs before Pion sees the description.
func FuzzOfferParsing(f *testing.F) {
	f.Add(seedOffer)
	f.Add("v=0\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		sd, err := parseSDP(raw)
		if err != nil {
			return
		}
		if n := countSendingMedia(sd); n < 0 || n > len(sd.MediaDescriptions) {
			t.Errorf("got %d sending sections of %d", n, len(sd.MediaDescriptions))
		}
	})
}

// FuzzForward feeds arbitrary publisher packets to the forwarding function:
// a packet that parses as RTP reaches every subscriber, anything else is
// counted as malformed, and nothing panics.
func FuzzForward(f *testing.F) {
	f.Add(videoPacket(f))
	f.Add([]byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fw, sinks := benchForwarder(t, 2)
		var pkt rtp.Packet
		fw.forward(b, &pkt)
		var check rtp.Packet
		if check.Unmarshal(b) != nil {
			if fw.m.malformed.Load() != 1 {
				t.Errorf("unparsable packet: got %d malformed, want 1", fw.m.malformed.Load())
			}
			return
		}
		for i, s := range sinks {
			if s.packets != 1 {
				t.Errorf("subscriber %d: got %d packets, want 1", i, s.packets)
			}
		}
	})
}
