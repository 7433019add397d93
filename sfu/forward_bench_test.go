package sfu

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"golang.org/x/sys/unix"
)

// sinkWriter stands in for Pion's SRTP write stream: it marshals the header
// and copies the payload into one buffer, as SRTP does before encrypting,
// without network or cryptography.
type sinkWriter struct {
	buf     [1500]byte
	packets int
}

func (w *sinkWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := h.MarshalTo(w.buf[:])
	if err != nil {
		return 0, err
	}
	n += copy(w.buf[n:], payload)
	w.packets++
	return n, nil
}

func (w *sinkWriter) Write(b []byte) (int, error) {
	w.packets++
	return copy(w.buf[:], b), nil
}

// benchContext binds a TrackLocalStaticRTP to a sinkWriter.
type benchContext struct {
	id     string
	ssrc   webrtc.SSRC
	writer *sinkWriter
}

func (c *benchContext) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        98,
	}}
}
func (c *benchContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c *benchContext) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c *benchContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *benchContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *benchContext) WriteStream() webrtc.TrackLocalWriter                   { return c.writer }
func (c *benchContext) ID() string                                             { return c.id }
func (c *benchContext) RTCPReader() interceptor.RTCPReader                     { return nil }

// benchForwarder returns a forwarder with subscribers bound copies, without
// any PeerConnection, and the sinks they write to.
func benchForwarder(tb testing.TB, subscribers int) (*forwarder, []*sinkWriter) {
	tb.Helper()
	f := &forwarder{m: &counters{}, log: slog.New(slog.DiscardHandler), video: true}
	f.sendPLI = func() error { return nil }
	var sinks []*sinkWriter
	for i := range subscribers {
		local, err := webrtc.NewTrackLocalStaticRTP(
			webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "alice")
		if err != nil {
			tb.Fatalf("new track: %v", err)
		}
		sink := &sinkWriter{}
		ctx := &benchContext{id: fmt.Sprint("sub", i), ssrc: webrtc.SSRC(1000 + i), writer: sink}
		if _, err := local.Bind(ctx); err != nil {
			tb.Fatalf("bind: %v", err)
		}
		f.addDown(&downtrack{fwd: f, local: local})
		sinks = append(sinks, sink)
	}
	return f, sinks
}

// videoPacket is a 1,200-byte VP8 packet as Chrome sends it, with the
// transport-wide sequence number and abs-send-time header extensions.
func videoPacket(tb testing.TB) []byte {
	tb.Helper()
	pkt := rtp.Packet{
		Header: rtp.Header{
			Version: 2, Marker: true, PayloadType: 96, SequenceNumber: 4711,
			Timestamp: 90000, SSRC: 0x1234abcd,
		},
		Payload: make([]byte, 1200),
	}
	pkt.Payload[0] = 0x10
	if err := pkt.Header.SetExtension(3, []byte{0x12, 0x34}); err != nil {
		tb.Fatalf("set extension: %v", err)
	}
	if err := pkt.Header.SetExtension(2, []byte{0x01, 0x02, 0x03}); err != nil {
		tb.Fatalf("set extension: %v", err)
	}
	b, err := pkt.Marshal()
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return b
}

func TestForwardWritesEverySubscriber(t *testing.T) {
	f, sinks := benchForwarder(t, 3)
	b := videoPacket(t)
	var pkt rtp.Packet
	f.forward(b, &pkt)
	for i, s := range sinks {
		if s.packets != 1 {
			t.Fatalf("subscriber %d: got %d packets, want 1", i, s.packets)
		}
		var out rtp.Packet
		n, err := out.Header.Unmarshal(s.buf[:])
		if err != nil {
			t.Fatalf("subscriber %d: unmarshal: %v", i, err)
		}
		if out.SSRC != uint32(1000+i) || out.PayloadType != 98 {
			t.Errorf("subscriber %d: got SSRC %d PT %d, want %d and 98", i, out.SSRC, out.PayloadType, 1000+i)
		}
		if out.Extension {
			t.Errorf("subscriber %d: got header extensions %v, want none", i, out.Extensions)
		}
		if out.SequenceNumber != 4711 || s.buf[n] != 0x10 {
			t.Errorf("subscriber %d: got sequence %d and first payload byte %#x, want 4711 and 0x10",
				i, out.SequenceNumber, s.buf[n])
		}
	}
	if got := f.m.forwardedPackets.Load(); got != 3 {
		t.Errorf("got %d forwarded packets counted, want 3", got)
	}
	if got := f.m.forwardedBytes.Load(); got != 3*(12+1200) {
		t.Errorf("got %d forwarded bytes counted, want %d", got, 3*(12+1200))
	}

	f.forward([]byte{0x80}, &pkt)
	if got := f.m.malformed.Load(); got != 1 {
		t.Errorf("got %d malformed packets counted, want 1", got)
	}
}

// cpuTime locks the benchmark goroutine to its OS thread and returns the
// thread's user and system CPU time. Measuring the thread, not wall time,
// keeps the figure meaningful on a machine busy with other work.
func cpuTime(tb testing.TB) time.Duration {
	runtime.LockOSThread()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPacketRate reports forwarded packets (one per subscriber write) per
// CPU-second of the benchmark thread.
func reportPacketRate(b *testing.B, start time.Duration, perOp int) {
	cpu := cpuTime(b) - start
	runtime.UnlockOSThread()
	runtime.UnlockOSThread()
	if cpu > 0 {
		b.ReportMetric(float64(b.N*perOp)/cpu.Seconds(), "pkts/cpu-s")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*perOp), "cpu-ns/pkt")
	}
}

// BenchmarkForward measures the forwarding path: parse, strip extensions,
// write to each subscriber's TrackLocalStaticRTP (SSRC and payload type
// rewrite, header marshal and payload copy into the sink).
func BenchmarkForward(b *testing.B) {
	for _, subs := range []int{1, 3, 7} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			f, _ := benchForwarder(b, subs)
			pkt := videoPacket(b)
			var p rtp.Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt) * subs))
			start := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				f.forward(pkt, &p)
			}
			b.StopTimer()
			reportPacketRate(b, start, subs)
		})
	}
}

// BenchmarkBaselineCopy is the floor: copy the packet bytes once per
// subscriber.
func BenchmarkBaselineCopy(b *testing.B) {
	for _, subs := range []int{1, 3, 7} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			pkt := videoPacket(b)
			dst := make([]byte, 1500)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt) * subs))
			start := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				for range subs {
					copy(dst, pkt)
				}
			}
			b.StopTimer()
			reportPacketRate(b, start, subs)
		})
	}
}

// BenchmarkBaselineUnmarshalMarshal parses the packet with pion/rtp and
// marshals it once per subscriber with a new SSRC, the work an SFU cannot
// avoid, with no Pion track in between.
func BenchmarkBaselineUnmarshalMarshal(b *testing.B) {
	for _, subs := range []int{1, 3, 7} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			pkt := videoPacket(b)
			dst := make([]byte, 1500)
			var p rtp.Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt) * subs))
			start := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				if err := p.Unmarshal(pkt); err != nil {
					b.Fatal(err)
				}
				for i := range subs {
					p.SSRC = uint32(i)
					if _, err := p.MarshalTo(dst); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			reportPacketRate(b, start, subs)
		})
	}
}
