package policytest

import (
	"crypto/rand"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

const docPath = "../../docs/access-control.md"

// objects is an in-memory world: each object records the relation of each
// actor to it.
type objects struct {
	mu  sync.Mutex
	rel map[string]map[string]policy.Relation
}

func (o *objects) handler(broken bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /objects/{id}", func(w http.ResponseWriter, r *http.Request) {
		actor, ok := policy.ActorFrom(r.Context())
		if !ok {
			api.WriteError(w, r, nil, api.Unauthorized())
			return
		}
		id := r.PathValue("id")
		o.mu.Lock()
		rel := o.rel[id][actor.UserID]
		o.mu.Unlock()
		if !broken {
			if err := policy.Decide(actor, policy.ActionConsultationRead, policy.Consultation(id), rel).Err(); err != nil {
				api.WriteError(w, r, nil, err)
				return
			}
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"id": id})
	})
	return mux
}

func (o *objects) cases() []Case {
	return []Case{{
		Name:   "GET object",
		Action: policy.ActionConsultationRead,
		Build: func(_ *testing.T, actor policy.Actor, rel policy.Relation) (Attempt, policy.Relation, bool) {
			if rel == policy.RelCorrespondent {
				return Attempt{}, 0, false
			}
			id := rand.Text()
			o.mu.Lock()
			o.rel[id] = map[string]policy.Relation{actor.UserID: rel}
			o.mu.Unlock()
			return Attempt{Method: "GET", Path: "/objects/" + id}, rel, true
		},
	}}
}

func TestRunPassesCorrectHandler(t *testing.T) {
	o := &objects{rel: map[string]map[string]policy.Relation{}}
	stats := Run(t, Matrix{Handler: o.handler(false), Doc: docPath, Cases: o.cases()})
	if want := len(policy.Roles) * 5; stats.Cells != want {
		t.Errorf("got %d cells, want %d", stats.Cells, want)
	}
	if stats.Allowed == 0 {
		t.Error("got no allowed cell, want some")
	}
}

// TestRunDetectsBrokenHandler runs the matrix against a handler that skips
// the policy in a child process and requires it to fail.
func TestRunDetectsBrokenHandler(t *testing.T) {
	if os.Getenv("POLICYTEST_CHILD") == "1" {
		o := &objects{rel: map[string]map[string]policy.Relation{}}
		Run(t, Matrix{Handler: o.handler(true), Doc: docPath, Cases: o.cases(),
			Actions: []policy.Action{policy.ActionAuditRead}})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunDetectsBrokenHandler$")
	cmd.Env = append(os.Environ(), "POLICYTEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the matrix passed a handler that allows everything:\n%s", out)
	}
	for _, want := range []string{"want denied with 404", "want denied with 403", "action audit.read has no case"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunAuthenticates drives a handler that authenticates bearer tokens
// itself, as the server does, through Matrix.Authenticate.
func TestRunAuthenticates(t *testing.T) {
	o := &objects{rel: map[string]map[string]policy.Relation{}}
	var mu sync.Mutex
	sessions := map[string]policy.Actor{}
	inner := o.handler(false)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, injected := policy.ActorFrom(r.Context()); injected {
			t.Error("got an injected actor, want only the bearer token")
		}
		mu.Lock()
		actor, ok := sessions[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		mu.Unlock()
		if ok {
			r = r.WithContext(policy.WithActor(r.Context(), actor))
		}
		inner.ServeHTTP(w, r)
	})
	stats := Run(t, Matrix{Handler: h, Doc: docPath, Cases: o.cases(),
		Authenticate: func(_ *testing.T, req *http.Request, actor policy.Actor) {
			token := rand.Text()
			mu.Lock()
			sessions[token] = actor
			mu.Unlock()
			req.Header.Set("Authorization", "Bearer "+token)
		}})
	if stats.Allowed == 0 {
		t.Error("got no allowed cell, want some")
	}
}
