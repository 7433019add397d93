package client_test

import (
	"context"
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
