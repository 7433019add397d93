package audit

import (
	"context"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/bedside-health/bedside/store"
)

// detectorConfig is the configuration of the scripted scenarios: the
// defaults plus clinic hours 07:00-19:00 Monday to Friday in Berlin.
func detectorConfig() Config {
	return Config{
		ClinicHours:    "07:00-19:00",
		ClinicTimeZone: "Europe/Berlin",
		ClinicDays:     "Mon-Fri",
	}
}

// scenario drives one scripted workload through a real Log with a
// simulated clock and returns the alerts it raised.
type scenario struct {
	t     *testing.T
	l     *Log
	db    *store.DB
	clock *fakeClock
}

func newScenario(t *testing.T, cfg Config, start time.Time) *scenario {
	db := openDB(t)
	clock := newClock(start)
	l := newTestLog(t, db, cfg, Deps{Now: clock.Now})
	return &scenario{t: t, l: l, db: db, clock: clock}
}

// at records e after advancing the clock by d.
func (s *scenario) at(d time.Duration, e Event) {
	s.clock.Advance(d)
	s.l.Record(context.Background(), e)
}

// alerts flushes the log and returns every stored alert.
func (s *scenario) alerts() []store.Alert {
	flush(s.t, s.l)
	return allAlerts(s.t, s.db)
}

func failedLogin(account, addr string) Event {
	return Event{Type: TypeLogin, TargetID: account, Address: addr, Outcome: OutcomeFailure}
}

func goodLogin(account, addr string) Event {
	return Event{Type: TypeLogin, ActorID: account, TargetID: account, Address: addr, Outcome: OutcomeSuccess}
}

func download(actor, role string, bytes int64) Event {
	return Event{
		Type: TypeAttachmentDownload, ActorID: actor, TargetID: "att-1", Address: "192.0.2.20",
		Outcome: OutcomeSuccess,
		Detail:  map[string]string{DetailBytes: strconv.FormatInt(bytes, 10), DetailRole: role},
	}
}

func fetch(actor, role string) Event {
	return Event{
		Type: TypeMessageFetch, ActorID: actor, TargetID: "conv-1", Address: "192.0.2.20",
		Outcome: OutcomeSuccess, Detail: map[string]string{DetailCount: "3", DetailRole: role},
	}
}

// berlin returns 2025-03-<day> at hh:mm in Europe/Berlin (UTC+1 in March
// before the 30th). The 12th is a Wednesday, the 15th a Saturday.
func berlin(day, hh, mm int) time.Time {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return time.Date(2025, 3, day, hh, mm, 0, 0, loc)
}

func TestScriptedAttacksRaiseExpectedAlerts(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		start  time.Time
		script func(s *scenario)
		want   map[string]int
	}{
		{
			name:  "brute force on one account",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				for range 12 {
					s.at(5*time.Second, failedLogin("u-victim", "198.51.100.7"))
				}
			},
			want: map[string]int{AlertFailedLoginsAccount: 1, AlertFailedLoginsAddress: 1},
		},
		{
			name:  "brute force that succeeds",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				for range 6 {
					s.at(5*time.Second, failedLogin("u-victim", "198.51.100.7"))
				}
				s.at(5*time.Second, goodLogin("u-victim", "198.51.100.7"))
			},
			want: map[string]int{
				AlertFailedLoginsAccount: 1, AlertFailedLoginsAddress: 1, AlertLoginAfterFailures: 1,
			},
		},
		{
			name:  "password spraying from one address",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				for i := range 8 {
					s.at(3*time.Second, failedLogin("u-"+strconv.Itoa(i), "198.51.100.7"))
				}
			},
			want: map[string]int{AlertFailedLoginsAddress: 1},
		},
		{
			// Each wrong code is recorded twice, as the auth package does:
			// auth.second_factor and auth.login failures. Only the second
			// counts, so five wrong codes raise one alert, not two.
			name:  "second factor guessing",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				for i := range 5 {
					addr := "198.51.100." + strconv.Itoa(i)
					s.at(2*time.Second, Event{Type: TypeSecondFactor, ActorID: "u-victim", Address: addr,
						Outcome: OutcomeFailure, Detail: map[string]string{DetailReason: "invalid_code"}})
					s.at(0, Event{Type: TypeLogin, ActorID: "u-victim", Address: addr,
						Outcome: OutcomeFailure, Detail: map[string]string{DetailReason: "wrong_second_factor"}})
				}
			},
			want: map[string]int{AlertFailedLoginsAccount: 1},
		},
		{
			name:  "bulk download",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				for range 30 {
					s.at(20*time.Second, download("u-clin", "clinician", 20*mib))
				}
			},
			want: map[string]int{AlertDownloadVolume: 1},
		},
		{
			name:  "off-hours access on a weeknight",
			start: berlin(12, 23, 30),
			script: func(s *scenario) {
				for range 5 {
					s.at(time.Minute, fetch("u-nurse", "nurse"))
				}
			},
			want: map[string]int{AlertOffHours: 1},
		},
		{
			name:  "off-hours access on a Saturday",
			start: berlin(15, 11, 0),
			script: func(s *scenario) {
				s.at(time.Second, download("u-clin", "clinician", mib))
			},
			want: map[string]int{AlertOffHours: 1},
		},
		{
			name:  "new device on a staff account",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				s.at(time.Second, Event{
					Type: TypeDeviceRegister, ActorID: "u-clin", TargetID: "dev-2", Outcome: OutcomeSuccess,
					Detail: map[string]string{DetailRole: "clinician"},
				})
			},
			want: map[string]int{AlertStaffDevice: 1},
		},
		{
			name:  "role change to admin",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				s.at(time.Second, Event{
					Type: TypeRoleChange, ActorID: "u-admin", TargetID: "u-nurse", Outcome: OutcomeSuccess,
					Detail: map[string]string{DetailOldRole: "nurse", DetailNewRole: "admin"},
				})
			},
			want: map[string]int{AlertRoleChange: 1},
		},
		{
			name:  "role change through the admin account action",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				s.at(time.Second, Event{
					Type: TypeAdminAccount, ActorID: "u-admin", TargetID: "u-nurse", Outcome: OutcomeSuccess,
					Detail: map[string]string{DetailAction: "change_role", DetailNewRole: "clinician"},
				})
				s.at(time.Second, Event{
					Type: TypeAdminAccount, ActorID: "u-admin", TargetID: "u-nurse", Outcome: OutcomeSuccess,
					Detail: map[string]string{DetailAction: "unlock"},
				})
			},
			want: map[string]int{AlertRoleChange: 1},
		},
		{
			name:  "audit export",
			start: berlin(12, 10, 0),
			script: func(s *scenario) {
				s.at(time.Second, Event{Type: TypeAuditExport, ActorID: "u-admin", Outcome: OutcomeSuccess})
			},
			want: map[string]int{AlertAuditExport: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, detectorConfig(), tc.start)
			tc.script(s)
			alerts := s.alerts()
			if got := alertCounts(alerts); !maps.Equal(got, tc.want) {
				t.Errorf("got alerts %v, want %v", got, tc.want)
			}
			end := s.clock.Now()
			for _, a := range alerts {
				if a.Time.Before(tc.start) || a.Time.After(end) {
					t.Errorf("alert %s at %s, want within the attack, %s to %s", a.Type, a.Time, tc.start, end)
				}
				if a.EventSeq == 0 {
					t.Errorf("alert %s names no event", a.Type)
				}
			}
		})
	}
}

// TestAlertRaisedAtThresholdEvent checks the delay between the event that
// crosses a threshold and its alert: none in simulated time.
func TestAlertRaisedAtThresholdEvent(t *testing.T) {
	s := newScenario(t, detectorConfig(), berlin(12, 10, 0))
	var fifth time.Time
	for i := range 8 {
		s.at(10*time.Second, failedLogin("u-victim", "198.51.100.7"))
		if i == 4 {
			fifth = s.clock.Now()
		}
	}
	alerts := s.alerts()
	if len(alerts) == 0 {
		t.Fatal("got no alert")
	}
	for _, a := range alerts {
		if d := a.Time.Sub(fifth); d < 0 || d > time.Minute {
			t.Errorf("alert %s raised %s after the fifth failure, want within a minute", a.Type, d)
		}
	}
}

func TestBenignWorkloadRaisesNoAlert(t *testing.T) {
	const mib = 1 << 20
	s := newScenario(t, detectorConfig(), berlin(12, 8, 0))
	patients := []string{"p-1", "p-2", "p-3", "p-4", "p-5"}
	staff := map[string]string{"u-clin": "clinician", "u-nurse": "nurse", "u-bill": "billing"}

	// A working day: every account signs in, some after one typo.
	for i, p := range patients {
		addr := "203.0.113." + strconv.Itoa(i+1)
		if i%2 == 0 {
			s.at(time.Minute, failedLogin(p, addr))
		}
		s.at(time.Minute, goodLogin(p, addr))
		s.at(time.Minute, Event{
			Type: TypeDeviceRegister, ActorID: p, TargetID: "dev-" + p, Outcome: OutcomeSuccess,
			Detail: map[string]string{DetailRole: "patient"},
		})
	}
	for id := range staff {
		s.at(time.Minute, failedLogin(id, "192.0.2.50"))
		s.at(time.Minute, goodLogin(id, "192.0.2.50"))
		s.at(time.Second, Event{Type: TypeSecondFactor, TargetID: id, ActorID: id,
			Address: "192.0.2.50", Outcome: OutcomeSuccess})
	}
	// Clinicians read and download within hours, below the volume limit.
	for range 40 {
		for id, role := range staff {
			s.at(2*time.Minute, fetch(id, role))
			s.at(time.Minute, download(id, role, 2*mib))
		}
	}
	// Patients write and read at night, which is theirs to do.
	s.clock.Set(berlin(12, 23, 0))
	for _, p := range patients {
		s.at(time.Minute, Event{Type: TypeMessageSend, ActorID: p, TargetID: "conv-" + p,
			Outcome: OutcomeSuccess, Detail: map[string]string{DetailRole: "patient", DetailBytes: "900"}})
		s.at(time.Minute, fetch(p, "patient"))
		s.at(time.Minute, download(p, "patient", 5*mib))
	}
	// A staff member denied at night reached nothing.
	s.at(time.Minute, Event{Type: TypeMessageFetch, ActorID: "u-nurse", Outcome: OutcomeDenied,
		Detail: map[string]string{DetailRole: "nurse"}})
	// Audit reads and failed exports are recorded, not alerted.
	s.at(time.Minute, Event{Type: TypeAuditRead, ActorID: "u-admin", Outcome: OutcomeSuccess})
	s.at(time.Minute, Event{Type: TypeAuditExport, ActorID: "u-admin", Outcome: OutcomeFailure})

	if got := s.alerts(); len(got) != 0 {
		t.Errorf("got alerts %v, want none", alertCounts(got))
	}
}

func TestFailedLoginWindowSlides(t *testing.T) {
	s := newScenario(t, detectorConfig(), berlin(12, 10, 0))
	// Four failures every two minutes never reach five within five minutes.
	for range 20 {
		s.at(2*time.Minute, failedLogin("u-slow", "198.51.100.9"))
	}
	if got := s.alerts(); len(got) != 0 {
		t.Errorf("got alerts %v, want none", alertCounts(got))
	}
}

func TestSustainedAttackRaisesOncePerWindow(t *testing.T) {
	s := newScenario(t, detectorConfig(), berlin(12, 10, 0))
	// 12 minutes of one failure every 10 seconds: a new alert after each
	// 5-minute cooldown, so at 0:50, 5:50 and 10:50.
	for range 72 {
		s.at(10*time.Second, failedLogin("u-victim", "198.51.100.7"))
	}
	want := map[string]int{AlertFailedLoginsAccount: 3, AlertFailedLoginsAddress: 3}
	if got := alertCounts(s.alerts()); !maps.Equal(got, want) {
		t.Errorf("got alerts %v, want %v", got, want)
	}
}

func TestDetectorsOffWhenNegative(t *testing.T) {
	cfg := Config{FailedLoginThreshold: -1, LoginAfterFailures: -1, DownloadBytesPerHour: -1}
	s := newScenario(t, cfg, berlin(15, 3, 0))
	for range 10 {
		s.at(time.Second, failedLogin("u-victim", "198.51.100.7"))
	}
	s.at(time.Second, goodLogin("u-victim", "198.51.100.7"))
	s.at(time.Second, download("u-clin", "clinician", 1<<40))
	if got := s.alerts(); len(got) != 0 {
		t.Errorf("got alerts %v, want none: ClinicHours is empty and the rest is off", alertCounts(got))
	}
}

func TestRoleChangeSeverity(t *testing.T) {
	s := newScenario(t, detectorConfig(), berlin(12, 10, 0))
	s.at(time.Second, Event{Type: TypeRoleChange, ActorID: "u-admin", TargetID: "u-1", Outcome: OutcomeSuccess,
		Detail: map[string]string{DetailOldRole: "nurse", DetailNewRole: "clinician"}})
	s.at(time.Second, Event{Type: TypeRoleChange, ActorID: "u-admin", TargetID: "u-2", Outcome: OutcomeSuccess,
		Detail: map[string]string{DetailOldRole: "nurse", DetailNewRole: "admin"}})
	bySubject := map[string]string{}
	for _, a := range s.alerts() {
		bySubject[a.Subject] = a.Severity
	}
	if bySubject["u-1"] != string(SeverityWarning) || bySubject["u-2"] != string(SeverityCritical) {
		t.Errorf("got severities %v, want u-1 warning and u-2 critical", bySubject)
	}
}

func TestDetectorStateIsBounded(t *testing.T) {
	cfg := detectorConfig()
	cfg.MaxTrackedKeys = 100
	cfg.setDefaults()
	d := newDetectors(&cfg, nil)
	for i := range 1000 {
		r := Record{Seq: uint64(i + 1), Type: TypeLogin, Outcome: OutcomeFailure, Time: wednesday10,
			TargetID: "u-" + strconv.Itoa(i), Address: "198.51.100." + strconv.Itoa(i%250)}
		d.observe(&r)
	}
	if n := d.failAccount.len(); n != 100 {
		t.Errorf("got %d tracked accounts, want 100", n)
	}
	if n := d.failAddress.len(); n != 100 {
		t.Errorf("got %d tracked addresses, want 100", n)
	}
}

func TestClinicHoursOpen(t *testing.T) {
	tests := []struct {
		hours, days string
		at          time.Time
		want        bool
	}{
		{"07:00-19:00", "Mon-Fri", berlin(12, 7, 0), true},
		{"07:00-19:00", "Mon-Fri", berlin(12, 6, 59), false},
		{"07:00-19:00", "Mon-Fri", berlin(12, 18, 59), true},
		{"07:00-19:00", "Mon-Fri", berlin(12, 19, 0), false},
		{"07:00-19:00", "Mon-Fri", berlin(15, 10, 0), false},
		{"07:00-19:00", "Mon,Wed,Sat", berlin(15, 10, 0), true},
		{"07:00-19:00", "Sat-Mon", berlin(16, 10, 0), true},
		{"07:00-24:00", "Wed", berlin(12, 23, 59), true},
		{"19:00-07:00", "Wed", berlin(12, 23, 0), true},
		{"19:00-07:00", "Wed", berlin(13, 6, 0), true}, // Wednesday's night shift
		{"19:00-07:00", "Wed", berlin(12, 6, 0), false},
	}
	for _, tc := range tests {
		c, err := parseClinicHours(tc.hours, tc.days, "Europe/Berlin")
		if err != nil {
			t.Fatalf("parse %q %q: %v", tc.hours, tc.days, err)
		}
		if got := c.open(tc.at); got != tc.want {
			t.Errorf("%s on %s at %s: got open %v, want %v", tc.hours, tc.days,
				tc.at.Format("Mon 15:04"), got, tc.want)
		}
	}
}

func TestSecondFactorFailureCountsOnce(t *testing.T) {
	s := newScenario(t, detectorConfig(), berlin(12, 10, 0))
	wrongCode := func() {
		s.at(2*time.Second, Event{Type: TypeSecondFactor, ActorID: "u-victim", Address: "198.51.100.3",
			Outcome: OutcomeFailure, Detail: map[string]string{DetailReason: "invalid_code"}})
		s.at(0, Event{Type: TypeLogin, ActorID: "u-victim", Address: "198.51.100.3",
			Outcome: OutcomeFailure, Detail: map[string]string{DetailReason: "wrong_second_factor"}})
	}
	for range 4 {
		wrongCode()
	}
	if got := s.alerts(); len(got) != 0 {
		t.Fatalf("after 4 wrong codes: got alerts %v, want none", alertCounts(got))
	}
	wrongCode()
	want := map[string]int{AlertFailedLoginsAccount: 1, AlertFailedLoginsAddress: 1}
	if got := alertCounts(s.alerts()); !maps.Equal(got, want) {
		t.Errorf("after 5 wrong codes: got alerts %v, want %v", got, want)
	}
}
