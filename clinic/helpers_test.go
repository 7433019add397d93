package clinic

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// events collects audit events in memory.
type events struct {
	mu   sync.Mutex
	list []audit.Event
}

func (e *events) Record(_ context.Context, ev audit.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

func (e *events) ofType(typ string) []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []audit.Event
	for _, ev := range e.list {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// fixture is a Service over a real bbolt store in a temporary directory.
type fixture struct {
	svc    *Service
	db     *store.DB
	events *events
	clock  *clock
	dir    string
}

var epoch = time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)

func newFixture(t testing.TB, users Users) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := store.LoadOrCreateKey(filepath.Join(dir, store.KeyFileName))
	if err != nil {
		t.Fatalf("server key: %v", err)
	}
	f := &fixture{db: db, events: &events{}, clock: &clock{t: epoch}, dir: dir}
	f.svc, err = New(Config{}, Deps{
		DB: db, Sealer: store.NewSealer(key), Audit: f.events, Now: f.clock.Now, Users: users,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

// addConsultation stores a consultation directly, bypassing the API, so
// tests can set up any participant list.
func (f *fixture) addConsultation(t testing.TB, patient string, start time.Time, status Status,
	participants ...store.Participant) *store.Consultation {
	t.Helper()
	c := &store.Consultation{
		ID:        newID(),
		PatientID: patient,
		Participants: append([]store.Participant{{UserID: patient, Kind: KindPatient}},
			participants...),
		Start:     start,
		End:       start.Add(30 * time.Minute),
		Status:    string(status),
		CreatedAt: f.clock.Now(),
		UpdatedAt: f.clock.Now(),
	}
	if err := f.db.CreateConsultation(c); err != nil {
		t.Fatalf("create consultation: %v", err)
	}
	return c
}

// addCareTeam assigns members to patient directly in the store.
func (f *fixture) addCareTeam(t testing.TB, patient string, members ...store.CareTeamMember) {
	t.Helper()
	_, err := f.db.UpdateCareTeam(patient, func(cur []store.CareTeamMember) ([]store.CareTeamMember, error) {
		return append(cur, members...), nil
	})
	if err != nil {
		t.Fatalf("update care team: %v", err)
	}
}

func actorOf(id string, role policy.Role) policy.Actor {
	return policy.Actor{UserID: id, Role: role, SessionID: "session-" + id, SecondFactor: role.IsStaff()}
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }
