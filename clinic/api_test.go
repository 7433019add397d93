package clinic

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// storeUsers reads roles from the account records in the store, as auth's
// implementation of Users does.
type storeUsers struct{ db *store.DB }

func (u storeUsers) UserRole(_ context.Context, id string) (policy.Role, error) {
	a, err := u.db.Account(id)
	if err != nil {
		return "", err
	}
	return policy.Role(a.Role), nil
}

// apiClient talks to the clinic routes on a loopback server, as one actor
// per call; a middleware puts the actor into the request context.
type apiClient struct {
	t      *testing.T
	f      *fixture
	srv    *httptest.Server
	mu     sync.Mutex
	actors map[string]policy.Actor
}

func newAPI(t *testing.T, users bool) *apiClient {
	t.Helper()
	c := &apiClient{t: t, actors: map[string]policy.Actor{}}
	c.f = newFixture(t, nil)
	if users {
		c.f.svc.users = storeUsers{db: c.f.db}
	}
	rt := api.NewRouter(nil)
	c.f.svc.Register(rt)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		actor, ok := c.actors[r.Header.Get("X-Test-Actor")]
		c.mu.Unlock()
		if ok {
			r = r.WithContext(policy.WithActor(r.Context(), actor))
		}
		rt.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// account creates a stored account of role and returns its actor.
func (c *apiClient) account(role policy.Role) policy.Actor {
	c.t.Helper()
	id := newID()
	err := c.f.db.CreateAccount(&store.Account{ID: id, Email: id + "@example.test", Role: string(role), Status: "active"})
	if err != nil {
		c.t.Fatalf("create account: %v", err)
	}
	return actorOf(id, role)
}

type response struct {
	status int
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

func (c *apiClient) do(actor policy.Actor, method, p string, body any) response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, ok := body.([]byte)
		if !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				c.t.Fatal(err)
			}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.srv.URL+p, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !actor.Anonymous() {
		handle := rand.Text()
		c.mu.Lock()
		c.actors[handle] = actor
		c.mu.Unlock()
		req.Header.Set("X-Test-Actor", handle)
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: raw}
}

// must sends a request, requires status want and decodes the body into out.
func (c *apiClient) must(want int, actor policy.Actor, method, p string, body, out any) {
	c.t.Helper()
	r := c.do(actor, method, p, body)
	if r.status != want {
		c.t.Fatalf("%s %s: got %s, want status %d", method, p, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, p, r.body, err)
		}
	}
}

func times(start time.Time, d time.Duration) map[string]any {
	return map[string]any{"start": rfc(start), "end": rfc(start.Add(d))}
}

func with(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

func TestConsultationLifecycle(t *testing.T) {
	c := newAPI(t, true)
	admin := c.account(policy.RoleAdmin)
	doc := c.account(policy.RoleClinician)
	nurse := c.account(policy.RoleNurse)
	pat := c.account(policy.RolePatient)
	interp := c.account(policy.RolePatient)
	team := map[string]any{"members": []map[string]any{{"user_id": doc.UserID}, {"user_id": nurse.UserID}}}
	c.must(200, admin, "PUT", "/api/v1/patients/"+pat.UserID+"/care-team", team, nil)

	// The patient requests; the clinician confirms and is listed as host.
	start := epoch.Add(48 * time.Hour)
	var cons Consultation
	c.must(201, pat, "POST", "/api/v1/consultations/requests", times(start, 30*time.Minute), &cons)
	if cons.Status != StatusRequested || cons.PatientID != pat.UserID {
		t.Fatalf("got status %s patient %s, want requested for %s", cons.Status, cons.PatientID, pat.UserID)
	}
	c.must(200, doc, "POST", "/api/v1/consultations/"+cons.ID+"/confirm", nil, &cons)
	if cons.Status != StatusScheduled {
		t.Fatalf("after confirm: got %s, want scheduled", cons.Status)
	}
	if got := kinds(cons); got[doc.UserID] != KindClinician || got[pat.UserID] != KindPatient {
		t.Errorf("got participants %v, want the clinician as clinician and the patient as patient", got)
	}

	// The patient moves it: it needs confirming again.
	c.must(200, pat, "POST", "/api/v1/consultations/"+cons.ID+"/reschedule", times(start.Add(time.Hour), 30*time.Minute), &cons)
	if cons.Status != StatusRequested || !cons.Start.Equal(start.Add(time.Hour)) {
		t.Fatalf("after patient reschedule: got %s at %s, want requested at %s", cons.Status, cons.Start, start.Add(time.Hour))
	}
	c.must(200, doc, "POST", "/api/v1/consultations/"+cons.ID+"/confirm", nil, &cons)
	c.must(200, doc, "POST", "/api/v1/consultations/"+cons.ID+"/guests", map[string]any{"user_id": interp.UserID}, &cons)
	if got := kinds(cons); got[interp.UserID] != KindGuest {
		t.Errorf("got participants %v, want the interpreter as guest", got)
	}

	// The guest joins inside the window; the nurse reads it from her schedule.
	g, err := c.f.svc.AuthorizeJoin(context.Background(), interp, cons.ID, cons.Start.Add(-5*time.Minute))
	if err != nil || g.Kind != KindGuest || g.Host {
		t.Fatalf("guest join: got %+v, %v; want a guest grant without host", g, err)
	}
	var sched scheduleView
	c.must(200, nurse, "GET", "/api/v1/consultations?from="+rfc(epoch)+"&to="+rfc(epoch.Add(30*24*time.Hour)), nil, &sched)
	if len(sched.Consultations) != 1 || sched.Consultations[0].ID != cons.ID {
		t.Errorf("nurse schedule: got %d consultations, want the one of her patient", len(sched.Consultations))
	}
	c.must(200, interp, "GET", "/api/v1/consultations", nil, &sched)
	if len(sched.Consultations) != 1 {
		t.Errorf("guest schedule: got %d consultations, want 1", len(sched.Consultations))
	}

	c.must(200, pat, "POST", "/api/v1/consultations/"+cons.ID+"/cancel", nil, &cons)
	if cons.Status != StatusCancelled {
		t.Errorf("after cancel: got %s, want cancelled", cons.Status)
	}
	r := c.do(doc, "POST", "/api/v1/consultations/"+cons.ID+"/reschedule", times(start, 30*time.Minute))
	if r.status != http.StatusConflict {
		t.Errorf("reschedule after cancel: got %s, want 409", r)
	}
	if _, err := c.f.svc.AuthorizeJoin(context.Background(), pat, cons.ID, cons.Start); err == nil {
		t.Error("join after cancel: got no error, want ErrNotJoinable")
	}

	for _, typ := range []string{"careteam.changed", "consultation.requested", "consultation.confirmed",
		"consultation.rescheduled", "consultation.guest_invited", "consultation.cancelled"} {
		if len(c.f.events.ofType(typ)) == 0 {
			t.Errorf("got no %s audit event, want one", typ)
		}
	}
}

func kinds(c Consultation) map[string]string {
	out := map[string]string{}
	for _, p := range c.Participants {
		out[p.UserID] = p.Kind
	}
	return out
}
