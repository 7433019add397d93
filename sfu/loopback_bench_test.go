package sfu

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"golang.org/x/sys/unix"
)

// processCPU returns the user and system CPU time of the whole process.
func processCPU(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// window bounds the packets in flight so loopback socket buffers never
// overflow and every written packet is forwarded.
const window = 64

// BenchmarkForwardLoopback runs the whole media path in one process on
// loopback: a Pion publisher encrypts and sends RTP, the SFU decrypts,
// forwards and encrypts once per subscriber, and Pion subscribers decrypt.
// CPU is the process's, so the figure includes the clients' work too.
func BenchmarkForwardLoopback(b *testing.B) {
	for _, subs := range []int{1, 3} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			benchLoopback(b, subs)
		})
	}
}

func benchLoopback(b *testing.B, subs int) {
	s := startSFU(b, nil)
	ctx := testContext(b, 30*time.Second)
	alice := newClient(b, s, "bench", "alice", nil, webrtc.Configuration{})
	local, err := webrtc.NewTrackLocalStaticRTP(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "alice-video", "alice")
	if err != nil {
		b.Fatalf("new track: %v", err)
	}
	if _, err := alice.pc.AddTrack(local); err != nil {
		b.Fatalf("add track: %v", err)
	}
	var received atomic.Int64
	var clients []*client
	for i := range subs {
		c := newClient(b, s, "bench", fmt.Sprint("sub", i), nil, webrtc.Configuration{})
		c.recvOnly()
		c.countOnly = &received
		clients = append(clients, c)
	}
	alice.mustOffer()
	for _, c := range clients {
		c.mustOffer()
	}

	pkt := &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SSRC: 1, Timestamp: 90000},
		Payload: make([]byte, 1200),
	}
	seq := uint16(0)
	send := func() {
		seq++
		pkt.SequenceNumber = seq
		if err := local.WriteRTP(pkt); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	// Warm up until every subscriber receives.
	waitFor(ctx, b, "media at every subscriber", func() bool {
		send()
		for _, c := range clients {
			if st := c.track("alice-video"); st == nil || st.packets.Load() == 0 {
				return false
			}
		}
		return true
	})

	received.Store(0)
	b.ReportAllocs()
	b.SetBytes(int64(pkt.MarshalSize() * subs))
	start := processCPU(b)
	b.ResetTimer()
	for i := range b.N {
		send()
		for int64(i+1-window)*int64(subs) > received.Load() {
			if ctx.Err() != nil {
				b.Fatalf("forwarding stalled at %d of %d packets", received.Load(), b.N*subs)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.StopTimer()
	cpu := processCPU(b) - start
	got := received.Load()
	if got > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(got), "cpu-ns/pkt")
		b.ReportMetric(float64(got)/float64(b.N*subs), "delivered")
	}
}

// BenchmarkBaselineUDPLoopback writes the same-size datagram over loopback
// UDP once per subscriber and reads it back, with the same window, in one
// process: the floor for any forwarding path that crosses the kernel twice.
func BenchmarkBaselineUDPLoopback(b *testing.B) {
	for _, subs := range []int{1, 3} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatalf("listen: %v", err)
			}
			defer rx.Close()
			tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
			if err != nil {
				b.Fatalf("dial: %v", err)
			}
			defer tx.Close()
			var received atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 1500)
				for {
					if _, err := rx.Read(buf); err != nil {
						return
					}
					received.Add(1)
				}
			}()
			msg := make([]byte, 1224)
			b.ReportAllocs()
			b.SetBytes(int64(len(msg) * subs))
			start := processCPU(b)
			b.ResetTimer()
			for i := range b.N {
				for range subs {
					if _, err := tx.Write(msg); err != nil {
						b.Fatalf("write: %v", err)
					}
				}
				for int64(i+1-window)*int64(subs) > received.Load() {
					time.Sleep(50 * time.Microsecond)
				}
			}
			b.StopTimer()
			cpu := processCPU(b) - start
			if got := received.Load(); got > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(got), "cpu-ns/pkt")
			}
			_ = rx.Close()
			<-done
		})
	}
}
