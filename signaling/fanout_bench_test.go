package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/policy"
)

// BenchmarkRoomFanout measures room events (presence updates) delivered to
// every admitted participant of a room of 2, 10 and 100, one event in
// flight at a time, with real WebSocket clients on loopback in the same
// process. The tcp baseline writes the same JSON to as many plain loopback
// TCP sockets from the broadcasting goroutine. Metrics: deliveries per
// CPU-second of the whole process (clients included) and the p50 and p99
// latency from the broadcast call to the client's read.
func BenchmarkRoomFanout(b *testing.B) {
	for _, size := range []int{2, 10, 100} {
		b.Run(fmt.Sprintf("size=%d/hub", size), func(b *testing.B) { benchHubFanout(b, size) })
		b.Run(fmt.Sprintf("size=%d/tcp", size), func(b *testing.B) { benchTCPFanout(b, size) })
	}
}

// fanoutProbe counts deliveries of the current event and collects their
// latencies.
type fanoutProbe struct {
	sent      atomic.Int64 // UnixNano of the current event's broadcast
	remaining atomic.Int64
	done      chan struct{}

	mu        sync.Mutex
	latencies []time.Duration
}

func newFanoutProbe() *fanoutProbe { return &fanoutProbe{done: make(chan struct{}, 1)} }

func (p *fanoutProbe) delivered() {
	d := time.Duration(time.Now().UnixNano() - p.sent.Load())
	p.mu.Lock()
	p.latencies = append(p.latencies, d)
	p.mu.Unlock()
	if p.remaining.Add(-1) == 0 {
		p.done <- struct{}{}
	}
}

// run broadcasts b.N events through broadcast, waiting for all n
// deliveries of each, and reports the metrics.
func (p *fanoutProbe) run(b *testing.B, n int, broadcast func()) {
	p.latencies = make([]time.Duration, 0, b.N*n)
	b.ReportAllocs()
	b.ResetTimer()
	cpuBefore := cpuTime()
	for range b.N {
		p.remaining.Store(int64(n))
		p.sent.Store(time.Now().UnixNano())
		broadcast()
		<-p.done
	}
	cpu := cpuTime() - cpuBefore
	b.StopTimer()

	slices.Sort(p.latencies)
	quantile := func(q float64) float64 {
		return float64(p.latencies[int(q*float64(len(p.latencies)-1))].Microseconds())
	}
	b.ReportMetric(float64(b.N*n)/cpu.Seconds(), "deliveries/cpu-s")
	b.ReportMetric(quantile(0.50), "p50-µs")
	b.ReportMetric(quantile(0.99), "p99-µs")
}

// cpuTime returns the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic("getrusage: " + err.Error())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var presencePrefix = []byte(`{"type":"presence"`)

func benchHubFanout(b *testing.B, n int) {
	e := newEnv(b, func(c *Config) {
		c.PingInterval = time.Hour
		c.PongTimeout = 2 * time.Hour
		c.QueueSize = 256        // setup admits every guest, which broadcasts to all
		c.MessageRate = rate.Inf // the host sends one admit per guest
	})
	var guests []string
	for i := range n - 1 {
		guests = append(guests, fmt.Sprintf("guest%d", i))
	}
	e.rooms.add("bench", []string{"host"}, guests...)
	probe := newFanoutProbe()
	var readers sync.WaitGroup
	b.Cleanup(readers.Wait)
	listen := func(c *client) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					return
				}
				if bytes.HasPrefix(data, presencePrefix) {
					probe.delivered()
				}
			}
		}()
	}

	host := e.connect("host", policy.RoleClinician)
	host.join("bench")
	for _, g := range guests {
		c := e.connect(g, policy.RolePatient)
		j := c.join("bench")
		listen(c)
		host.send(AdmitMessage{Header: Header{Type: TypeAdmit, ID: "a"}, Participant: j.Participant})
		host.waitFor(TypeOK, nil, TypeWaiting, TypeWaitingList, TypeParticipantJoined)
	}
	listen(host)

	e.hub.mu.Lock()
	r := e.hub.rooms["bench"]
	e.hub.mu.Unlock()
	event := PresenceUpdate{
		Header:       Header{Type: TypePresence},
		Consultation: "bench",
		Participant:  "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		Status:       PresenceAway,
	}
	probe.run(b, n, func() {
		r.mu.Lock()
		r.broadcastLocked(TypePresence, event, nil, isAdmitted)
		r.mu.Unlock()
	})
}

func benchTCPFanout(b *testing.B, n int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	event := PresenceUpdate{
		Header:       Header{Type: TypePresence},
		Consultation: "bench",
		Participant:  "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		Status:       PresenceAway,
	}
	encoded, err := json.Marshal(event)
	if err != nil {
		b.Fatal(err)
	}
	size := len(encoded)
	probe := newFanoutProbe()

	var readers sync.WaitGroup
	senders := make([]net.Conn, n)
	for i := range n {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		senders[i] = server
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer client.Close()
			buf := make([]byte, size)
			for {
				if _, err := io.ReadFull(client, buf); err != nil {
					return
				}
				probe.delivered()
			}
		}()
	}
	defer readers.Wait()
	defer func() {
		for _, s := range senders {
			s.Close()
		}
	}()

	probe.run(b, n, func() {
		data, _ := json.Marshal(event)
		for _, s := range senders {
			if _, err := s.Write(data); err != nil {
				panic("write: " + err.Error())
			}
		}
	})
}
