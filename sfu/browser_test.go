//go:build browser

package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// The browser check drives Chromium against the SFU. It needs Debian's
// chromium and must run inside a network namespace that holds only
// loopback, as root:
//
//	unshare -n sh -c 'ip link set lo up; go test -tags browser -run Browser -v ./sfu'

type browserEvent struct {
	Type      string                   `json:"type"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
}

type browserReport struct {
	FramesDecoded      int    `json:"framesDecoded"`
	RemoteTracks       int    `json:"remoteTracks"`
	State              string `json:"state"`
	LocalCandidateType string `json:"localCandidateType"`
}

// browserPeer queues SFU messages for one page; the page fetches them in
// order from /events.
type browserPeer struct {
	t      *testing.T
	peer   *Peer
	mu     sync.Mutex
	events []browserEvent
	wake   chan struct{}
	report browserReport
	closed error
	// hold keeps SFU messages queued; only test commands go out.
	hold bool
}

func (b *browserPeer) push(ev browserEvent) {
	b.mu.Lock()
	b.events = append(b.events, ev)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *browserPeer) SendOffer(sdp string) { b.push(browserEvent{Type: "offer", SDP: sdp}) }
func (b *browserPeer) SendCandidate(c webrtc.ICECandidateInit) {
	b.push(browserEvent{Type: "candidate", Candidate: &c})
}
func (b *browserPeer) Closed(reason error) {
	b.t.Logf("peer closed: %v", reason)
	b.mu.Lock()
	b.closed = reason
	b.mu.Unlock()
}

func (b *browserPeer) take(ctx context.Context) []browserEvent {
	select {
	case <-b.wake:
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.hold {
		out := b.events
		b.events = nil
		return out
	}
	var out, kept []browserEvent
	for _, ev := range b.events {
		if ev.Type == "addtrack" {
			out = append(out, ev)
		} else {
			kept = append(kept, ev)
		}
	}
	b.events = kept
	return out
}

func (b *browserPeer) setHold(on bool) {
	b.mu.Lock()
	b.hold = on
	b.mu.Unlock()
}

// kill ends a Chromium process group and waits for the browser to exit.
func kill(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

func TestBrowserInterop(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed")
	}
	s := startSFU(t, func(c *Config) {
		c.ICEDisconnectedTimeout = DefaultICEDisconnectedTimeout
		c.ICEFailedTimeout = DefaultICEFailedTimeout
		c.TURN = TURNConfig{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}
		if os.Getenv("SFU_DEBUG") != "" {
			c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	ctx := testContext(t, 60*time.Second)
	page, err := os.ReadFile("testdata/browser.html")
	if err != nil {
		t.Fatal(err)
	}

	peers := map[string]*browserPeer{}
	for _, id := range []string{"a", "b", "c", "d"} {
		bp := &browserPeer{t: t, wake: make(chan struct{}, 1)}
		p, err := s.Join("browser", id, bp)
		if err != nil {
			t.Fatalf("join %s: %v", id, err)
		}
		bp.peer = p
		peers[id] = bp
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write(page)
	})
	handle := func(path string, fn func(bp *browserPeer, body []byte) any) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			bp := peers[r.URL.Query().Get("p")]
			if bp == nil {
				http.NotFound(w, r)
				return
			}
			var body json.RawMessage
			if r.Method == http.MethodPost {
				_ = json.NewDecoder(r.Body).Decode(&body)
			}
			_ = json.NewEncoder(w).Encode(fn(bp, body))
		})
	}
	handle("POST /offer", func(bp *browserPeer, body []byte) any {
		var m struct{ SDP string }
		_ = json.Unmarshal(body, &m)
		// Hold the queue so the answer lands before any later SFU offer.
		bp.mu.Lock()
		answer, err := bp.peer.HandleOffer(m.SDP)
		ev := browserEvent{Type: "answer", SDP: answer}
		if errors.Is(err, ErrOfferCollision) {
			ev = browserEvent{Type: "collision"}
		} else if err != nil {
			t.Errorf("HandleOffer: %v", err)
		}
		bp.events = append(bp.events, ev)
		bp.mu.Unlock()
		return map[string]bool{"ok": true}
	})
	handle("POST /answer", func(bp *browserPeer, body []byte) any {
		var m struct{ SDP string }
		_ = json.Unmarshal(body, &m)
		if err := bp.peer.HandleAnswer(m.SDP); err != nil {
			t.Errorf("HandleAnswer: %v", err)
		}
		return map[string]bool{"ok": true}
	})
	handle("POST /candidate", func(bp *browserPeer, body []byte) any {
		var c webrtc.ICECandidateInit
		_ = json.Unmarshal(body, &c)
		if err := bp.peer.AddICECandidate(c); err != nil {
			t.Logf("AddICECandidate: %v", err)
		}
		return map[string]bool{"ok": true}
	})
	handle("GET /events", func(bp *browserPeer, _ []byte) any {
		evs := bp.take(ctx)
		if evs == nil {
			evs = []browserEvent{}
		}
		return evs
	})
	handle("GET /turn", func(bp *browserPeer, _ []byte) any {
		creds, _ := s.TURNCredentials(bp.peer.ID())
		return creds
	})
	handle("POST /report", func(bp *browserPeer, body []byte) any {
		bp.mu.Lock()
		_ = json.Unmarshal(body, &bp.report)
		bp.mu.Unlock()
		return map[string]bool{"ok": true}
	})
	handle("POST /log", func(bp *browserPeer, body []byte) any {
		t.Logf("page: %s", body)
		return map[string]bool{"ok": true}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// c publishes nothing and opens with an offer without media sections;
	// d receives only, through the SFU's TURN server.
	modes := map[string]string{"c": "&mode=recv", "d": "&mode=recv&relay=1"}
	procs := map[string]*exec.Cmd{}
	for id := range peers {
		cmd := exec.Command(chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
			"--allow-loopback-in-peer-connection", "--use-fake-device-for-media-stream",
			"--use-fake-ui-for-media-stream", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run",
			"--autoplay-policy=no-user-gesture-required",
			"--user-data-dir="+t.TempDir(), srv.URL+"/?p="+id+modes[id])
		// Own process group, so killing it also ends Chromium's children.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start chromium: %v", err)
		}
		procs[id] = cmd
		t.Cleanup(func() { kill(cmd) })
	}

	report := func(id string) browserReport {
		bp := peers[id]
		bp.mu.Lock()
		defer bp.mu.Unlock()
		return bp.report
	}
	waitFor(ctx, t, "every browser decoding the others' video", func() bool {
		return report("a").FramesDecoded > 30 && report("b").FramesDecoded > 30 &&
			report("c").FramesDecoded > 30 && report("c").RemoteTracks == 4 &&
			report("d").FramesDecoded > 30 && report("d").RemoteTracks == 4
	})
	if got := report("d").LocalCandidateType; got != "relay" {
		t.Errorf("d: got local candidate type %q, want relay", got)
	}
	t.Logf("a: %+v, b: %+v, c: %+v, d: %+v, stats: %+v",
		report("a"), report("b"), report("c"), report("d"), s.Stats())

	// Glare: a's messages are held while b publishes a screen track, so the
	// SFU's offer to a is in flight when a publishes one of its own. The SFU
	// rejects a's offer, a (polite) rolls back and answers the SFU's offer,
	// then offers again.
	peers["a"].setHold(true)
	peers["b"].push(browserEvent{Type: "addtrack"})
	waitFor(ctx, t, "an SFU offer to a in flight", func() bool {
		pa := peers["a"].peer
		pa.negMu.Lock()
		defer pa.negMu.Unlock()
		return pa.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer
	})
	peers["a"].push(browserEvent{Type: "addtrack"})
	waitFor(ctx, t, "a's crossing offer rejected", func() bool { return s.Stats().Glare == 1 })
	peers["a"].setHold(false)
	waitFor(ctx, t, "both screen tracks everywhere after glare", func() bool {
		return report("a").RemoteTracks == 3 && report("b").RemoteTracks == 3 &&
			report("c").RemoteTracks == 6 && report("d").RemoteTracks == 6
	})
	t.Logf("after glare: a: %+v, b: %+v, c: %+v", report("a"), report("b"), report("c"))

	// Browser b vanishes: a and c must see its tracks go.
	kill(procs["b"])
	waitFor(ctx, t, "b dropped and its tracks removed at a and c", func() bool {
		return s.Stats().Peers == 3 && report("a").RemoteTracks == 0 && report("c").RemoteTracks == 3
	})
	t.Logf("after b vanished: a: %+v, stats: %+v", report("a"), s.Stats())
}
