package client_test

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/clients/client"
)

// events collects a call's event lines.
type events struct {
	mu    sync.Mutex
	lines []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, s)
}

func (e *events) has(prefix string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

func TestCallThroughSFU(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type outcome struct {
		report *client.CallReport
		err    error
	}
	var patEvents, clinEvents events
	patDone := make(chan outcome, 1)
	go func() {
		r, err := pat.Call(ctx, client.CallOptions{ConsultationID: f.Consultation, Label: "patient-cli",
			Duration: 3 * time.Second, LoopbackOnly: true, Event: patEvents.add})
		patDone <- outcome{r, err}
	}()
	// The patient waits until the clinician, a host, joins and admits him.
	waitUntil(t, ctx, "the patient waits", func() bool { return patEvents.has("waiting for a host") })
	clinDone := make(chan outcome, 1)
	go func() {
		r, err := clin.Call(ctx, client.CallOptions{ConsultationID: f.Consultation, Label: "clinician-cli",
			AdmitAll: true, Duration: 4 * time.Second, LoopbackOnly: true, Event: clinEvents.add})
		clinDone <- outcome{r, err}
	}()

	for name, ch := range map[string]chan outcome{"patient": patDone, "clinician": clinDone} {
		var o outcome
		select {
		case o = <-ch:
		case <-ctx.Done():
			t.Fatalf("%s's call did not end", name)
		}
		if o.err != nil {
			t.Fatalf("%s's call: %v", name, o.err)
		}
		if !o.report.Connected {
			t.Errorf("%s: media not connected at the end", name)
		}
		kinds := map[string]uint64{}
		for _, tr := range o.report.Tracks {
			kinds[tr.Kind] += tr.Packets
		}
		if kinds["audio"] == 0 || kinds["video"] == 0 {
			t.Errorf("%s received %v packets by kind, want audio and video from the other peer", name, kinds)
		}
		if o.report.AudioSent == 0 || o.report.VideoSent == 0 {
			t.Errorf("%s sent %d audio and %d video frames, want both", name, o.report.AudioSent, o.report.VideoSent)
		}
	}
	if !patEvents.has("admitted by a host") {
		t.Errorf("patient events: got %q, want an admission", patEvents.lines)
	}
	if !clinEvents.has("admitting participant") {
		t.Errorf("clinician events: got %q, want an admission", clinEvents.lines)
	}
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// connRecorder keeps the TCP connections a client opens, so a test can
// cut one without a close frame.
type connRecorder struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (r *connRecorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
	}
	return c, err
}

// cutLast closes the last connection and returns how many were opened.
func (r *connRecorder) cutLast() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns[len(r.conns)-1].Close()
	return len(r.conns)
}

// lastReport keeps the latest report of a call.
type lastReport struct {
	mu sync.Mutex
	r  client.CallReport
	ok bool
}

func (l *lastReport) set(r client.CallReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.r, l.ok = r, true
}

func (l *lastReport) get() (client.CallReport, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r, l.ok
}

// from sums the packets received from stream and counts its tracks and
// the ended ones.
func from(r client.CallReport, stream string) (packets uint64, tracks, ended int) {
	for _, t := range r.Tracks {
		if t.StreamID != stream {
			continue
		}
		packets += t.Packets
		tracks++
		if t.Ended {
			ended++
		}
	}
	return packets, tracks, ended
}

func TestCallResumesWithICERestart(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	rec := &connRecorder{}
	pat, err := client.Open(client.Config{ServerURL: f.URL, StateDir: filepath.Join(t.TempDir(), "state"),
		DialContext: rec.dial})
	if err != nil {
		t.Fatalf("open client: %v", err)
	}
	t.Cleanup(func() { pat.Close() })
	login(t, pat, f.Patient)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	type outcome struct {
		report *client.CallReport
		err    error
	}
	var patEvents events
	var patReport, clinReport lastReport
	patDone := make(chan outcome, 1)
	go func() {
		r, err := pat.Call(ctx, client.CallOptions{ConsultationID: f.Consultation, Label: "patient-cli",
			LoopbackOnly: true, ReportInterval: 100 * time.Millisecond, Report: patReport.set, Event: patEvents.add})
		patDone <- outcome{r, err}
	}()
	waitUntil(t, ctx, "the patient waits", func() bool { return patEvents.has("waiting for a host") })
	clinDone := make(chan outcome, 1)
	go func() {
		r, err := clin.Call(ctx, client.CallOptions{ConsultationID: f.Consultation, Label: "clinician-cli",
			AdmitAll: true, LoopbackOnly: true, ReportInterval: 100 * time.Millisecond, Report: clinReport.set})
		clinDone <- outcome{r, err}
	}()

	var patID string
	waitUntil(t, ctx, "the clinician receives the patient's audio and video", func() bool {
		p, ok := patReport.get()
		c, _ := clinReport.get()
		patID = p.Participant
		packets, tracks, _ := from(c, patID)
		return ok && tracks == 2 && packets >= 60
	})
	before, _ := clinReport.get()

	// The patient's TCP connection drops without a close frame, as on a
	// network change. The call resumes and restarts ICE.
	if n := rec.cutLast(); n != 1 {
		t.Fatalf("the patient opened %d signaling connections before the cut, want 1", n)
	}
	waitUntil(t, ctx, "the patient resumes and restarts ICE", func() bool {
		p, _ := patReport.get()
		return p.Reconnects == 1 && p.ICERestarts == 1
	})
	mid, _ := clinReport.get()
	midPackets, _, _ := from(mid, patID)
	waitUntil(t, ctx, "the clinician receives the patient's media after the restart", func() bool {
		c, _ := clinReport.get()
		packets, _, _ := from(c, patID)
		return packets >= midPackets+60
	})

	after, _ := clinReport.get()
	if after.Renegotiations != before.Renegotiations {
		t.Errorf("the clinician answered %d SFU offers during the reconnect, want 0",
			after.Renegotiations-before.Renegotiations)
	}
	if _, tracks, ended := from(after, patID); tracks != 2 || ended != 0 {
		t.Errorf("the clinician has %d tracks from the patient, %d ended; want the same 2, none ended", tracks, ended)
	}
	p, _ := patReport.get()
	if p.MediaSessions != 1 {
		t.Errorf("the patient used %d media sessions, want 1", p.MediaSessions)
	}
	if !patEvents.has("resumed participant " + patID + ": restarting ICE") {
		t.Errorf("patient events: got %q, want a resume with an ICE restart", patEvents.lines)
	}

	cancel()
	for name, ch := range map[string]chan outcome{"patient": patDone, "clinician": clinDone} {
		select {
		case o := <-ch:
			if o.err != nil {
				t.Errorf("%s's call: %v", name, o.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s's call did not end", name)
		}
	}
}
