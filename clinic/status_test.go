package clinic

import (
	"context"
	"testing"
	"time"
)

var allStatuses = []Status{StatusRequested, StatusScheduled, StatusWaiting, StatusInProgress,
	StatusCompleted, StatusCancelled, StatusNoShow}

var allTriggers = []Trigger{TriggerConfirm, TriggerCancel, TriggerRescheduleStaff,
	TriggerReschedulePatient, TriggerHub}

func TestStateMachine(t *testing.T) {
	// want lists every allowed transition as "from>to by trigger".
	want := map[string]bool{
		"requested>scheduled by confirm":               true,
		"requested>cancelled by cancel":                true,
		"requested>requested by reschedule by staff":   true,
		"requested>requested by reschedule by patient": true,
		"scheduled>cancelled by cancel":                true,
		"scheduled>scheduled by reschedule by staff":   true,
		"scheduled>requested by reschedule by patient": true,
		"scheduled>waiting by hub":                     true,
		"scheduled>in_progress by hub":                 true,
		"scheduled>no_show by hub":                     true,
		"waiting>in_progress by hub":                   true,
		"waiting>scheduled by hub":                     true,
		"waiting>no_show by hub":                       true,
		"waiting>cancelled by cancel":                  true,
		"in_progress>completed by hub":                 true,
	}
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			for _, by := range allTriggers {
				key := string(from) + ">" + string(to) + " by " + string(by)
				if got := CanTransition(from, to, by); got != want[key] {
					t.Errorf("%s: got %v, want %v", key, got, want[key])
				}
			}
		}
	}
}

func TestFinalStatusesHaveNoExit(t *testing.T) {
	for _, tr := range Transitions() {
		if tr.From.Final() {
			t.Errorf("transition %s to %s by %s leaves final status", tr.From, tr.To, tr.By)
		}
	}
}

func TestRescheduleTarget(t *testing.T) {
	tests := []struct {
		from Status
		by   Trigger
		to   Status
		ok   bool
	}{
		{StatusRequested, TriggerReschedulePatient, StatusRequested, true},
		{StatusScheduled, TriggerReschedulePatient, StatusRequested, true},
		{StatusScheduled, TriggerRescheduleStaff, StatusScheduled, true},
		{StatusWaiting, TriggerRescheduleStaff, "", false},
		{StatusCancelled, TriggerReschedulePatient, "", false},
	}
	for _, tt := range tests {
		to, ok := rescheduleTarget(tt.from, tt.by)
		if to != tt.to || ok != tt.ok {
			t.Errorf("%s by %s: got %q %v, want %q %v", tt.from, tt.by, to, ok, tt.to, tt.ok)
		}
	}
}

func TestCompleteAbandoned(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	start := f.clock.Now().Add(-3 * time.Hour)
	patient := newID()
	old := f.addConsultation(t, patient, start, StatusInProgress)
	recent := f.addConsultation(t, patient, f.clock.Now().Add(-10*time.Minute), StatusInProgress)
	scheduled := f.addConsultation(t, patient, start, StatusScheduled)

	n, err := f.svc.CompleteAbandoned(ctx, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("completed %d consultations, want 1", n)
	}
	for _, tt := range []struct {
		id   string
		want Status
	}{{old.ID, StatusCompleted}, {recent.ID, StatusInProgress}, {scheduled.ID, StatusScheduled}} {
		c, err := f.svc.Consultation(ctx, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != tt.want {
			t.Errorf("consultation %s: got status %s, want %s", tt.id, c.Status, tt.want)
		}
	}
}
