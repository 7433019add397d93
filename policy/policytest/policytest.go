// Package policytest checks HTTP routes and access calls against the
// access-control table in docs/access-control.md. A package lists its
// routes as Cases, each with the policy action it needs and a Build
// function that creates a fresh resource to which a given actor holds a
// given relation. Run then tries every case for every role and relation and
// fails on every cell whose outcome differs from the document.
//
// Requests go to the real handler through a loopback httptest server. A
// small middleware puts the cell's actor into the request context with
// policy.WithActor, the same contract the auth middleware fulfils.
package policytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

// Attempt is one try of a case: an HTTP request to the matrix's handler,
// or a direct Call for checks that are not routes (such as an Authorize
// call made by a signaling message).
type Attempt struct {
	Method string
	// Path is the request path with ids filled in.
	Path string
	// Body is sent as JSON when not nil.
	Body any
	// RawBody, when not nil, is sent as it is instead of Body; set its
	// Content-Type in Header.
	RawBody []byte
	// Header holds extra request headers, such as a device id.
	Header http.Header
	// Call, when set, replaces the HTTP request. Its error is rendered
	// with api.WriteError, so it is compared exactly like a response.
	Call func(ctx context.Context, actor policy.Actor) error
	// Resource, when set and Matrix.Resolver is set, is resolved to check
	// that Build really created the relations it reports.
	Resource *policy.Resource
}

// Case is one route or call under test.
type Case struct {
	// Name identifies the case in failures, such as the route pattern.
	Name   string
	Action policy.Action
	// Collection marks a case on no specific resource: its denials respond
	// forbidden, never not found.
	Collection bool
	// HideAll marks a case whose every denial responds not found, even
	// when the actor knows the resource; AuthorizeJoin is one, so that a
	// join attempt never tells members from strangers.
	HideAll bool
	// Build creates, for actor, a fresh resource to which he holds rel,
	// and returns the attempt and the relations he actually holds (a
	// consultation's patient is also a participant). It returns ok false
	// when rel cannot exist for this kind of resource.
	Build func(t *testing.T, actor policy.Actor, rel policy.Relation) (a Attempt, held policy.Relation, ok bool)
}

// Matrix is a set of cases against one handler.
type Matrix struct {
	// Handler serves the routes, such as an *api.Router.
	Handler http.Handler
	// Doc is the path of docs/access-control.md, the expectations' source.
	Doc   string
	Cases []Case
	// NewActor returns an actor of role with a second factor; nil makes
	// one with a random id.
	NewActor func(t *testing.T, role policy.Role) policy.Actor
	// Resolver, when set, checks each Attempt.Resource's relations
	// against the relations Build reported.
	Resolver policy.Resolver
	// Actions, when set, must each be covered by at least one case.
	Actions []policy.Action
	// Authenticate, when set, replaces the injected actor: it adds the
	// credentials of actor's session to req, such as the bearer token of a
	// real session, so that the handler's own authentication runs.
	// NewActor must then return actors whose sessions it knows, for staff
	// also with SecondFactor false.
	Authenticate func(t *testing.T, req *http.Request, actor policy.Actor)
}

// Scenarios are the relations Run requests from Build, in order: none first.
var Scenarios = []policy.Relation{policy.RelNone, policy.RelOwner, policy.RelCareTeam,
	policy.RelParticipant, policy.RelHost, policy.RelCorrespondent}

// actorHeader carries the test's handle of the cell's actor to the
// middleware. It names an entry in a map the test holds; it is no
// credential and the production server has no such header.
const actorHeader = "X-Policytest-Actor"

// server is the loopback server with the actor-injecting middleware.
type server struct {
	*httptest.Server
	authenticate func(t *testing.T, req *http.Request, actor policy.Actor)

	mu     sync.Mutex
	actors map[string]policy.Actor
}

func newServer(h http.Handler, authenticate func(*testing.T, *http.Request, policy.Actor)) *server {
	s := &server{actors: map[string]policy.Actor{}, authenticate: authenticate}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		actor, ok := s.actors[r.Header.Get(actorHeader)]
		s.mu.Unlock()
		if ok {
			r = r.WithContext(policy.WithActor(r.Context(), actor))
		}
		h.ServeHTTP(w, r)
	}))
	return s
}

// Result is the status and body one attempt produced.
type Result struct {
	Status int
	Body   []byte
}

// Do sends a, as actor (anonymous when actor is the zero Actor), and
// returns the status and body.
func (s *server) do(t *testing.T, a Attempt, actor policy.Actor) Result {
	t.Helper()
	if a.Call != nil {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if err := a.Call(context.Background(), actor); err != nil {
			api.WriteError(rec, req, nil, err)
		} else {
			rec.WriteHeader(http.StatusOK)
		}
		return Result{Status: rec.Code, Body: rec.Body.Bytes()}
	}
	var body io.Reader
	switch {
	case a.RawBody != nil:
		body = bytes.NewReader(a.RawBody)
	case a.Body != nil:
		raw, err := json.Marshal(a.Body)
		if err != nil {
			t.Fatalf("encode body of %s %s: %v", a.Method, a.Path, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(a.Method, s.URL+a.Path, body)
	if err != nil {
		t.Fatalf("request %s %s: %v", a.Method, a.Path, err)
	}
	if a.Body != nil && a.RawBody == nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range a.Header {
		req.Header[k] = v
	}
	switch {
	case actor.Anonymous():
	case s.authenticate != nil:
		s.authenticate(t, req, actor)
	default:
		handle := rand.Text()
		s.mu.Lock()
		s.actors[handle] = actor
		s.mu.Unlock()
		req.Header.Set(actorHeader, handle)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", a.Method, a.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response of %s %s: %v", a.Method, a.Path, err)
	}
	return Result{Status: resp.StatusCode, Body: raw}
}

// Render returns the exact response api.WriteError produces for err.
func Render(err error) Result {
	rec := httptest.NewRecorder()
	api.WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), nil, err)
	return Result{Status: rec.Code, Body: rec.Body.Bytes()}
}

// DefaultActor returns an actor of role with a random id and, for staff, a
// second factor.
func DefaultActor(_ *testing.T, role policy.Role) policy.Actor {
	return policy.Actor{UserID: rand.Text(), Role: role, SessionID: rand.Text(), SecondFactor: role.IsStaff()}
}

// LoadDoc reads the action table from the access-control document.
func LoadDoc(t *testing.T, path string) map[policy.Action]map[policy.Role]policy.Relation {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	table, err := policy.ParseDocTable(doc)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return table
}

func (r Result) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }
