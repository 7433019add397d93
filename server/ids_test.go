package server

import (
	"bytes"
	"crypto/rand"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/messaging"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/policy/policytest"
	"github.com/bedside-health/bedside/signaling"
)

// send sends a matrix attempt as actor and returns the response.
func (w *world) send(t *testing.T, a policytest.Attempt, actor policy.Actor) apiResult {
	t.Helper()
	var body any
	switch {
	case a.RawBody != nil:
		body = rawBody(a.RawBody)
	case a.Body != nil:
		body = a.Body
	}
	return w.tc.callWith(t, w.tc.token(t, actor), a.Method, a.Path, body, a.Header)
}

// withPathIDs returns path with the segments that are parameters in
// pattern replaced by id.
func withPathIDs(pattern, path string, id func() string) string {
	_, tmpl, _ := strings.Cut(pattern, " ")
	path, query, _ := strings.Cut(path, "?")
	want, got := strings.Split(tmpl, "/"), strings.Split(path, "/")
	for i := range want {
		if strings.HasPrefix(want[i], "{") && i < len(got) {
			got[i] = id()
		}
	}
	out := strings.Join(got, "/")
	if query != "" {
		out += "?" + query
	}
	return out
}

// TestGuessedIDsRevealNothing sends every route with path ids, as every
// role with a second factor, on a resource the actor has no relation to,
// then with the ids replaced by random well-formed ids and by malformed
// ones. The three responses must be identical and must be not found (or,
// for a collection, forbidden), so a guessed id tells nothing about which
// ids exist.
func TestGuessedIDsRevealNothing(t *testing.T) {
	tc := newTestClinic(t, nil)
	w := newWorld(tc)
	src := newActorSource(tc, sharedActors)
	table := policytest.LoadDoc(t, accessDoc)
	checked := 0
	for _, c := range httpCases(w) {
		pattern := route(c.Name)
		if !strings.Contains(pattern, "{") {
			continue
		}
		for _, role := range policy.Roles {
			if table[c.Action][role]&policy.RelAny != 0 {
				continue // the role may act on any such resource
			}
			actor := src.newActor(t, role)
			a, _, ok := c.Build(t, actor, policy.RelNone)
			if !ok {
				continue
			}
			want := policytest.Render(api.NotFound())
			if c.Collection {
				want = policytest.Render(policy.ForbiddenError())
			}
			name := c.Name + " as " + string(role)
			variants := map[string]func() string{
				"random id":    randomHex,
				"malformed id": func() string { return "not-an-id!" },
			}
			if strings.Contains(pattern, "/conversations/{id}") {
				variants["random conversation"] = randomConversation
			}
			got := w.send(t, a, actor)
			if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) {
				t.Errorf("%s, no relation: got %d %s, want %s", name, got.Status, got.Body, want)
			}
			checked++
			for v, id := range variants {
				guessed := a
				guessed.Path = withPathIDs(pattern, a.Path, id)
				res := w.send(t, guessed, actor)
				if res.Status != got.Status || !bytes.Equal(res.Body, got.Body) {
					t.Errorf("%s, %s: got %d %s, want the answer for an existing id, %d %s",
						name, v, res.Status, res.Body, got.Status, got.Body)
				}
			}
		}
	}
	t.Logf("checked %d routes and roles", checked)
	if checked == 0 {
		t.Error("checked no route")
	}
}

// bodyIDCases are the routes that take the id of their path resource in
// the body too, with the body field.
var bodyIDCases = map[string]string{
	"PUT /api/v1/patients/{id}/care-team":            "patient_id",
	"POST /api/v1/patients/{id}/care-team":           "patient_id",
	"POST /api/v1/consultations/{id}/confirm":        "consultation_id",
	"POST /api/v1/consultations/{id}/cancel":         "consultation_id",
	"POST /api/v1/consultations/{id}/reschedule":     "consultation_id",
	"POST /api/v1/consultations/{id}/guests":         "consultation_id",
	"POST /api/v1/consultations/{id}/billing":        "consultation_id",
	"PUT /api/v1/consultations/{id}/billing/{entry}": "consultation_id",
}

// TestTamperedBodyIDs sends each route that repeats its resource id in
// the body, as an actor the table allows, with the body naming another
// resource the actor may also act on, or a random id. Both must get not
// found, and the matching id must succeed.
func TestTamperedBodyIDs(t *testing.T) {
	tc := newTestClinic(t, nil)
	w := newWorld(tc)
	src := newActorSource(tc, sharedActors)
	table := policytest.LoadDoc(t, accessDoc)
	want := policytest.Render(api.NotFound())
	missing := maps.Clone(bodyIDCases)
	for _, c := range clinicCases(w) {
		field, ok := bodyIDCases[c.Name]
		if !ok {
			continue
		}
		delete(missing, c.Name)
		actor, rel := allowedCell(t, src, table, c)
		build := func() (policytest.Attempt, string) {
			a, held, ok := c.Build(t, actor, rel)
			if !ok || table[c.Action][actor.Role]&(held|policy.RelAny) == 0 {
				t.Fatalf("%s: no allowed attempt as %s with %s", c.Name, actor.Role, rel)
			}
			return a, strings.Split(a.Path, "/")[4]
		}
		_, other := build()
		for _, v := range []struct{ name, id string }{
			{"another resource of the actor", other},
			{"a random id", rand.Text()},
		} {
			a, _ := build()
			a.Body = withField(a.Body, field, v.id)
			got := w.send(t, a, actor)
			if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) {
				t.Errorf("%s as %s, %s naming %s: got %d %s, want %s", c.Name, actor.Role, field, v.name,
					got.Status, got.Body, want)
			}
		}
		a, id := build()
		a.Body = withField(a.Body, field, id)
		if got := w.send(t, a, actor); got.Status/100 != 2 {
			t.Errorf("%s as %s with the matching %s: got %d %s, want 2xx", c.Name, actor.Role, field, got.Status, got.Body)
		}
	}
	for name := range missing {
		t.Errorf("no matrix case for %s", name)
	}
}

// allowedCell returns an actor and a relation for which the table allows
// the case, and for which its Build finds a resource, preferring a
// relation over a grant of any.
func allowedCell(t *testing.T, src *actorSource, table map[policy.Action]map[policy.Role]policy.Relation,
	c matrixCase) (policy.Actor, policy.Relation) {
	t.Helper()
	for _, wantAny := range []bool{false, true} {
		for _, role := range policy.Roles {
			grant := table[c.Action][role]
			if (grant&policy.RelAny != 0) != wantAny {
				continue
			}
			for _, rel := range policytest.Scenarios {
				if !wantAny && grant&rel == 0 {
					continue
				}
				actor := src.newActor(t, role)
				if _, held, ok := c.Build(t, actor, rel); ok && (wantAny || grant&held != 0) {
					return actor, rel
				}
				src.release(actor)
			}
		}
	}
	t.Fatalf("%s: no role may %s", c.Name, c.Action)
	return policy.Actor{}, 0
}

// withField returns a copy of a JSON object body with key set to value.
func withField(body any, key, value string) map[string]any {
	out := map[string]any{}
	switch b := body.(type) {
	case map[string]any:
		for k, v := range b {
			out[k] = v
		}
	case map[string]string:
		for k, v := range b {
			out[k] = v
		}
	}
	out[key] = value
	return out
}

// TestSealedForAnotherConversation posts a message sealed for another
// conversation: whether that conversation exists and the sender belongs
// to it or not, the answer is the same 400 conversation_mismatch.
func TestSealedForAnotherConversation(t *testing.T) {
	tc := newTestClinic(t, nil)
	w := newWorld(tc)
	patient := tc.newActor(t, policy.RolePatient)
	target, _, _, _ := w.conversation(t, patient, policy.RelOwner, consultationThread)
	own, ownRes, _, _ := w.conversation(t, patient, policy.RelOwner, consultationThread)
	stranger, strangerRes, _, _ := w.conversation(t, patient, policy.RelNone, consultationThread)
	var first apiResult
	for i, other := range []struct {
		name, id string
		res      policy.Resource
	}{
		{"his own other conversation", own, ownRes},
		{"a conversation of others", stranger, strangerRes},
		{"a conversation that does not exist", randomConversation(), ownRes},
	} {
		wire := w.sealFor(t, patient, other.id, other.res)
		h := w.deviceHeader(t, patient)
		h.Set("Content-Type", messaging.SealedMediaType)
		got := tc.callWith(t, tc.token(t, patient), "POST", "/api/v1/conversations/"+target+"/messages",
			rawBody(wire), h)
		checkCode(t, "message sealed for "+other.name, got, http.StatusBadRequest, "conversation_mismatch")
		if i == 0 {
			first = got
		} else if !bytes.Equal(got.Body, first.Body) {
			t.Errorf("message sealed for %s: got %s, want the same body as for his own: %s", other.name, got.Body, first.Body)
		}
	}
}

// TestJoinOutsideWindow joins consultations outside their appointment
// window. A participant learns that it is not open; anyone else gets the
// not-found answer of an id that does not exist.
func TestJoinOutsideWindow(t *testing.T) {
	tc := newTestClinic(t, nil)
	w := newWorld(tc)
	patient := tc.newActor(t, policy.RolePatient)
	outsider := tc.newActor(t, policy.RoleClinician)
	for _, start := range []time.Time{time.Now().Add(48 * time.Hour), time.Now().Add(-3 * time.Hour)} {
		c, _, _ := w.consultation(t, patient, policy.RelOwner, clinic.StatusScheduled, start, "")
		w.addCareTeam(t, c.PatientID, outsider) // in the patient's care team, not listed
		conn, err := w.wsSession(t, patient)
		if err != nil {
			t.Fatal(err)
		}
		if f := conn.join(c.ID); f.Code != string(signaling.CodeOutsideWindow) {
			t.Errorf("participant joins at %s: got %s, want outside-window", start.Format(time.RFC3339), f.raw)
		}
		conn.leave()

		conn, err = w.wsSession(t, outsider)
		if err != nil {
			t.Fatal(err)
		}
		known := conn.join(c.ID)
		unknown := conn.join(rand.Text())
		conn.leave()
		if known.Code != string(signaling.CodeNotFound) || known.Message != unknown.Message {
			t.Errorf("care team member joins at %s: got %s, want the answer for an unknown id, %s",
				start.Format(time.RFC3339), known.raw, unknown.raw)
		}
	}
}
