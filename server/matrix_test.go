package server

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/policy/policytest"
	"github.com/bedside-health/bedside/store"
)

const accessDoc = "../docs/access-control.md"

// publicRoutes are the routes that need no session, with the reason. The
// matrix has no cell for them; every other registered route needs a case.
var publicRoutes = map[string]string{
	"POST /api/v1/auth/login":               "the password step of a sign-in",
	"POST /api/v1/auth/login/second-factor": "the second step of a sign-in, with its challenge",
	"POST /api/v1/invitations/accept":       "the invitation token is the credential",
	"POST /api/v1/signup":                   "self sign-up, off unless the operator enables it",
	"POST /api/v1/password-reset":           "the reset token is the credential",
	"GET /healthz":                          "liveness for load balancers",
	"GET /readyz":                           "readiness for load balancers",
	"GET /metrics":                          "Prometheus scrape; the operator can move it to --metrics-addr",
	"GET /ws":                               "the WebSocket upgrade; the first message authenticates (signaling cases)",
}

// listRoutes are routes that list what the caller takes part in and check
// no action of their own. Each listed item must pass the read action, and
// TestListsShowOnlyReadable checks that.
var listRoutes = map[string]policy.Action{
	"GET /api/v1/conversations": policy.ActionConversationRead,
}

// actionsWithoutRoute are table actions no route or signaling message
// checks yet; the clinic package's matrix checks them through Authorize.
var actionsWithoutRoute = map[policy.Action]string{
	policy.ActionAccountRead: "no route reads another account's profile yet",
}

// matrixCase is a policytest.Case with the actors it needs.
type matrixCase struct {
	policytest.Case
	source sourceKind
}

// route returns the route pattern a case name starts with: the name is
// the pattern, optionally followed by a variant in parentheses. Signaling
// cases, named "WS" and the message type, are served by GET /ws.
func route(name string) string {
	if strings.HasPrefix(name, "WS ") {
		return "GET /ws"
	}
	if i := strings.Index(name, " ("); i >= 0 {
		return name[:i]
	}
	return name
}

func getAttempt(p string) policytest.Attempt { return policytest.Attempt{Method: "GET", Path: p} }

func postAttempt(p string, body any) policytest.Attempt {
	return policytest.Attempt{Method: "POST", Path: p, Body: body}
}

// onSelf builds an attempt on the actor's own account; no other relation
// applies.
func onSelf(attempt func(t *testing.T, actor policy.Actor) policytest.Attempt) build {
	return func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		if rel != policy.RelOwner {
			return policytest.Attempt{}, 0, false
		}
		return attempt(t, actor), policy.RelOwner, true
	}
}

// onCollection builds an attempt on no specific resource.
func onCollection(attempt func(t *testing.T) policytest.Attempt) build {
	return func(t *testing.T, _ policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		if rel != policy.RelNone {
			return policytest.Attempt{}, 0, false
		}
		return attempt(t), policy.RelNone, true
	}
}

// onPatient builds an attempt on a fresh patient.
func onPatient(w *world, attempt func(t *testing.T, patient string) policytest.Attempt) build {
	return func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		p, held, ok := w.patient(t, actor, rel)
		if !ok {
			return policytest.Attempt{}, 0, false
		}
		a := attempt(t, p)
		res := policy.Patient(p)
		a.Resource = &res
		return a, held, true
	}
}

// onConsultation builds an attempt on a fresh consultation in status a
// day ahead.
func onConsultation(w *world, status clinic.Status, attempt func(t *testing.T, c *store.Consultation) policytest.Attempt) build {
	return func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		c, held, ok := w.consultation(t, actor, rel, status, later(), "")
		if !ok {
			return policytest.Attempt{}, 0, false
		}
		a := attempt(t, c)
		res := policy.Consultation(c.ID)
		a.Resource = &res
		return a, held, true
	}
}

// onAccount builds an account administration attempt on a fresh account
// the actor relates to by rel. The routes act on the collection of
// accounts, so the relation changes no response, and it is varied to show
// that.
// An administrator acting on his own account is skipped where the route
// rejects that with 409 whatever the policy says.
func onAccount(w *world, selfRejected bool, attempt func(t *testing.T, user string, rel policy.Relation) policytest.Attempt) build {
	return func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		if selfRejected && rel == policy.RelOwner && actor.Role == policy.RoleAdmin {
			return policytest.Attempt{}, 0, false
		}
		u, held, ok := w.account(t, actor, rel)
		if !ok {
			return policytest.Attempt{}, 0, false
		}
		return attempt(t, u, rel), held, true
	}
}

func adminUserCase(w *world, op string, selfRejected bool, body any) matrixCase {
	return matrixCase{Case: policytest.Case{
		Name: "POST /api/v1/admin/users/{id}/" + op, Action: policy.ActionAccountManage, Collection: true,
		Build: onAccount(w, selfRejected, func(_ *testing.T, u string, _ policy.Relation) policytest.Attempt {
			return postAttempt("/api/v1/admin/users/"+u+"/"+op, body)
		}),
	}}
}

// authCases covers the routes of package auth that need a session.
func authCases(w *world) []matrixCase {
	tc := w.tc
	return []matrixCase{
		{source: freshActors, Case: policytest.Case{
			Name: "POST /api/v1/auth/logout", Action: policy.ActionAccountUpdateSelf,
			Build: onSelf(func(*testing.T, policy.Actor) policytest.Attempt {
				return postAttempt("/api/v1/auth/logout", nil)
			})}},
		{Case: policytest.Case{
			Name: "GET /api/v1/auth/sessions", Action: policy.ActionAccountReadSelf,
			Build: onSelf(func(*testing.T, policy.Actor) policytest.Attempt { return getAttempt("/api/v1/auth/sessions") })}},
		{source: freshActors, Case: policytest.Case{
			// Sessions are looked up within the caller's own account: the
			// session of any other account is missing for him.
			Name: "DELETE /api/v1/auth/sessions/{id}", Action: policy.ActionAccountUpdateSelf,
			Build: func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
				var id string
				switch rel {
				case policy.RelOwner:
					id = tc.accountOf(t, actor.UserID).SpareSession
				case policy.RelNone:
					other := tc.createAccount(t, policy.RolePatient)
					id = tc.passwordLogin(t, other).Session.ID
				default:
					return policytest.Attempt{}, 0, false
				}
				return policytest.Attempt{Method: "DELETE", Path: "/api/v1/auth/sessions/" + id}, rel, true
			}}},
		{Case: policytest.Case{
			Name: "GET /api/v1/me", Action: policy.ActionAccountReadSelf,
			Build: onSelf(func(*testing.T, policy.Actor) policytest.Attempt { return getAttempt("/api/v1/me") })}},
		{source: freshActors, Case: policytest.Case{
			Name: "POST /api/v1/me/password", Action: policy.ActionAccountUpdateSelf,
			Build: onSelf(func(t *testing.T, actor policy.Actor) policytest.Attempt {
				return postAttempt("/api/v1/me/password", map[string]string{
					"current_password": tc.accountOf(t, actor.UserID).Password,
					"new_password":     randomPassword(),
				})
			})}},
		{source: unenrolledActors, Case: policytest.Case{
			Name: "POST /api/v1/me/totp", Action: policy.ActionAccountUpdateSelf,
			Build: onSelf(func(*testing.T, policy.Actor) policytest.Attempt { return postAttempt("/api/v1/me/totp", nil) })}},
		{source: unenrolledActors, Case: policytest.Case{
			Name: "POST /api/v1/me/totp/confirm", Action: policy.ActionAccountUpdateSelf,
			Build: onSelf(func(t *testing.T, actor policy.Actor) policytest.Attempt {
				var enr struct {
					Secret string `json:"secret"`
				}
				tc.mustCall(t, tc.token(t, actor), "POST", "/api/v1/me/totp", nil, &enr)
				return postAttempt("/api/v1/me/totp/confirm", map[string]string{"code": totpCode(t, enr.Secret)})
			})}},
		{Case: policytest.Case{
			// The roles an inviter may grant are checked by
			// TestInvitationRoles; here every role invites a patient.
			Name: "POST /api/v1/invitations", Action: policy.ActionInvitationCreate, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt {
				return postAttempt("/api/v1/invitations", map[string]string{"email": newEmail(), "role": "patient"})
			})}},
		{Case: policytest.Case{
			Name: "GET /api/v1/admin/users", Action: policy.ActionAccountManage, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt { return getAttempt("/api/v1/admin/users") })}},
		adminUserCase(w, "disable", true, nil),
		{Case: policytest.Case{
			Name: "POST /api/v1/admin/users/{id}/enable", Action: policy.ActionAccountManage, Collection: true,
			Build: onAccount(w, true, func(t *testing.T, u string, rel policy.Relation) policytest.Attempt {
				if rel != policy.RelOwner {
					w.disable(t, u)
				}
				return postAttempt("/api/v1/admin/users/"+u+"/enable", nil)
			})}},
		adminUserCase(w, "unlock", false, nil),
		adminUserCase(w, "reset-second-factor", true, nil),
		adminUserCase(w, "role", true, map[string]string{"role": "patient"}),
		adminUserCase(w, "password-reset", false, nil),
	}
}

// auditCases covers the routes of package audit.
func auditCases(w *world) []matrixCase {
	return []matrixCase{
		{Case: policytest.Case{
			Name: "GET /api/v1/admin/alerts", Action: policy.ActionAlertRead, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt { return getAttempt("/api/v1/admin/alerts") })}},
		{Case: policytest.Case{
			Name: "POST /api/v1/admin/alerts/{id}/ack", Action: policy.ActionAlertAck, Collection: true,
			Build: onCollection(func(t *testing.T) policytest.Attempt {
				return postAttempt(fmt.Sprintf("/api/v1/admin/alerts/%d/ack", w.alert(t)), nil)
			})}},
		{Case: policytest.Case{
			Name: "GET /api/v1/admin/audit", Action: policy.ActionAuditRead, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt { return getAttempt("/api/v1/admin/audit?limit=10") })}},
		{Case: policytest.Case{
			Name: "GET /api/v1/admin/audit/export", Action: policy.ActionAuditRead, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt {
				since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
				return getAttempt("/api/v1/admin/audit/export?since=" + since)
			})}},
	}
}

// clinicCases covers the routes of package clinic.
func clinicCases(w *world) []matrixCase {
	tc := w.tc
	cases := []policytest.Case{
		{Name: "GET /api/v1/patients/{id}/care-team", Action: policy.ActionCareTeamRead,
			Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
				return getAttempt("/api/v1/patients/" + p + "/care-team")
			})},
		{Name: "PUT /api/v1/patients/{id}/care-team", Action: policy.ActionCareTeamManage,
			Build: onPatient(w, func(t *testing.T, p string) policytest.Attempt {
				nurse := tc.inviteAccount(t, policy.RoleNurse).ID
				return policytest.Attempt{Method: "PUT", Path: "/api/v1/patients/" + p + "/care-team",
					Body: map[string]any{"members": []map[string]string{{"user_id": nurse}}}}
			})},
		{Name: "POST /api/v1/patients/{id}/care-team", Action: policy.ActionCareTeamManage,
			Build: onPatient(w, func(t *testing.T, p string) policytest.Attempt {
				clinician := tc.inviteAccount(t, policy.RoleClinician).ID
				return postAttempt("/api/v1/patients/"+p+"/care-team", map[string]string{"user_id": clinician})
			})},
		{Name: "DELETE /api/v1/patients/{id}/care-team/{user}", Action: policy.ActionCareTeamManage,
			Build: onPatient(w, func(t *testing.T, p string) policytest.Attempt {
				nurse := policy.Actor{UserID: tc.inviteAccount(t, policy.RoleNurse).ID, Role: policy.RoleNurse}
				w.addCareTeam(t, p, nurse)
				return policytest.Attempt{Method: "DELETE", Path: "/api/v1/patients/" + p + "/care-team/" + nurse.UserID}
			})},
		{Name: "GET /api/v1/consultations", Action: policy.ActionConsultationList, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt { return getAttempt("/api/v1/consultations") })},
		{Name: "POST /api/v1/consultations", Action: policy.ActionConsultationCreate,
			Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
				body := times()
				body["patient_id"] = p
				return postAttempt("/api/v1/consultations", body)
			})},
		{Name: "POST /api/v1/consultations/requests", Action: policy.ActionConsultationRequest,
			Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
				body := times()
				body["patient_id"] = p
				return postAttempt("/api/v1/consultations/requests", body)
			})},
		{Name: "GET /api/v1/consultations/{id}", Action: policy.ActionConsultationRead,
			Build: onConsultation(w, clinic.StatusScheduled, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return getAttempt("/api/v1/consultations/" + c.ID)
			})},
		{Name: "POST /api/v1/consultations/{id}/confirm", Action: policy.ActionConsultationConfirm,
			Build: onConsultation(w, clinic.StatusRequested, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return postAttempt("/api/v1/consultations/"+c.ID+"/confirm", nil)
			})},
		{Name: "POST /api/v1/consultations/{id}/cancel", Action: policy.ActionConsultationCancel,
			Build: onConsultation(w, clinic.StatusScheduled, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return postAttempt("/api/v1/consultations/"+c.ID+"/cancel", nil)
			})},
		{Name: "POST /api/v1/consultations/{id}/reschedule", Action: policy.ActionConsultationReschedule,
			Build: onConsultation(w, clinic.StatusScheduled, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return postAttempt("/api/v1/consultations/"+c.ID+"/reschedule", times())
			})},
		{Name: "POST /api/v1/consultations/{id}/guests", Action: policy.ActionConsultationInviteGuest,
			Build: onConsultation(w, clinic.StatusScheduled, func(t *testing.T, c *store.Consultation) policytest.Attempt {
				guest := tc.inviteAccount(t, policy.RolePatient).ID
				return postAttempt("/api/v1/consultations/"+c.ID+"/guests", map[string]string{"user_id": guest})
			})},
		{Name: "GET /api/v1/consultations/{id}/billing", Action: policy.ActionBillingRead,
			Build: onConsultation(w, clinic.StatusCompleted, func(t *testing.T, c *store.Consultation) policytest.Attempt {
				w.billingEntry(t, c.ID)
				return getAttempt("/api/v1/consultations/" + c.ID + "/billing")
			})},
		{Name: "POST /api/v1/consultations/{id}/billing", Action: policy.ActionBillingWrite,
			Build: onConsultation(w, clinic.StatusCompleted, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return postAttempt("/api/v1/consultations/"+c.ID+"/billing", sampleBilling)
			})},
		{Name: "PUT /api/v1/consultations/{id}/billing/{entry}", Action: policy.ActionBillingWrite,
			Build: onConsultation(w, clinic.StatusCompleted, func(t *testing.T, c *store.Consultation) policytest.Attempt {
				e := w.billingEntry(t, c.ID)
				return policytest.Attempt{Method: "PUT", Path: "/api/v1/consultations/" + c.ID + "/billing/" + e,
					Body: sampleBilling}
			})},
		{Name: "GET /api/v1/billing", Action: policy.ActionBillingRead, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt { return getAttempt("/api/v1/billing") })},
	}
	out := make([]matrixCase, len(cases))
	for i, c := range cases {
		out[i] = matrixCase{Case: c}
	}
	return out
}

// httpCases returns every HTTP case of the server.
func httpCases(w *world) []matrixCase {
	var cases []matrixCase
	cases = append(cases, authCases(w)...)
	cases = append(cases, auditCases(w)...)
	cases = append(cases, clinicCases(w)...)
	cases = append(cases, messagingCases(w)...)
	return cases
}

// TestAccessMatrix drives every route of the assembled server and every
// signaling action over the server's WebSocket, with real sessions, for
// every role. The actor owns the resource, is in its care team,
// participates in it, hosts it, corresponds with it or has no relation to
// it. Expectations come from docs/access-control.md, and the test fails on
// any cell that differs and on any registered route without a case.
func TestAccessMatrix(t *testing.T) {
	tc := newTestClinic(t, nil)
	w := newWorld(tc)
	cases := append(httpCases(w), signalingCases(w)...)
	checkRouteCoverage(t, tc.srv.router.Patterns(), cases)
	checkActionCoverage(t, cases)
	checkDocumentedActions(t, cases)

	var total policytest.Stats
	for _, kind := range []sourceKind{sharedActors, freshActors, unenrolledActors} {
		src := newActorSource(tc, kind)
		var run []policytest.Case
		for _, c := range cases {
			if c.source == kind {
				c.Build = src.recycle(c.Build)
				run = append(run, c.Case)
			}
		}
		stats := policytest.Run(t, policytest.Matrix{
			Handler:      tc.srv.Handler(),
			Doc:          accessDoc,
			Cases:        run,
			NewActor:     src.newActor,
			Resolver:     tc.srv.services.clinic,
			Authenticate: tc.authenticate,
		})
		total.Cells += stats.Cells
		total.Allowed += stats.Allowed
		total.Skipped += stats.Skipped
	}
	t.Logf("%d cases, %d cells (%d allowed), %d relations skipped that do not apply",
		len(cases), total.Cells, total.Allowed, total.Skipped)
	if total.Allowed == 0 || total.Allowed == total.Cells {
		t.Errorf("got %d allowed of %d cells, want a mix", total.Allowed, total.Cells)
	}
}

// checkRouteCoverage fails for a registered route that is neither public
// nor covered by a case, and for a case whose route is not registered.
func checkRouteCoverage(t *testing.T, patterns []string, cases []matrixCase) {
	t.Helper()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[route(c.Name)] = true
	}
	registered := map[string]bool{}
	for _, p := range patterns {
		registered[p] = true
		_, public := publicRoutes[p]
		if _, list := listRoutes[p]; list {
			continue
		}
		switch {
		case public && covered[p] && p != "GET /ws":
			t.Errorf("route %s is listed as public and has matrix cases", p)
		case !public && !covered[p]:
			t.Errorf("route %s has no case in the access matrix: add one", p)
		}
	}
	for p := range publicRoutes {
		if !registered[p] {
			t.Errorf("public route %s is not registered: remove it from publicRoutes", p)
		}
	}
	for p := range covered {
		if !registered[p] {
			t.Errorf("matrix case for %s, which is not registered", p)
		}
	}
}

// checkActionCoverage fails for a table action without a case, unless it
// is listed in actionsWithoutRoute, and for a listed action that has one.
func checkActionCoverage(t *testing.T, cases []matrixCase) {
	t.Helper()
	covered := map[policy.Action]bool{}
	for _, c := range cases {
		covered[c.Action] = true
	}
	for _, a := range policy.Actions() {
		_, exempt := actionsWithoutRoute[a]
		switch {
		case exempt && covered[a]:
			t.Errorf("action %s is covered now: remove it from actionsWithoutRoute", a)
		case !exempt && !covered[a]:
			t.Errorf("action %s has no route or signaling case", a)
		}
	}
}

// docRow matches a table row of the docs whose second cell is an action,
// and docRoute a route in its first cell: | `METHOD /path` | action |.
var (
	docRow   = regexp.MustCompile(`(?m)^\| (.+?) \| ([a-z]+\.[a-z-]+) \|`)
	docRoute = regexp.MustCompile("`([A-Z]+ /[^`?]*)[^`]*`")
)

// checkDocumentedActions fails when docs/api.md or docs/access-control.md
// names another action for a route than its matrix case.
func checkDocumentedActions(t *testing.T, cases []matrixCase) {
	t.Helper()
	documented := map[string]policy.Action{}
	for _, doc := range []string{"../docs/api.md", accessDoc} {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range docRow.FindAllStringSubmatch(string(raw), -1) {
			for _, r := range docRoute.FindAllStringSubmatch(row[1], -1) {
				documented[r[1]] = policy.Action(row[2])
			}
		}
	}
	if len(documented) == 0 {
		t.Fatal("found no route with an action in the docs")
	}
	matched := 0
	for _, c := range cases {
		r := route(c.Name)
		want, ok := documented[r]
		if !ok {
			continue
		}
		matched++
		if want != c.Action {
			t.Errorf("%s: the docs name action %s, the matrix case %s", c.Name, want, c.Action)
		}
	}
	if matched == 0 {
		t.Error("no matrix case matched a documented route")
	}
}

// TestInvitationRoles checks the invitation table of
// docs/access-control.md: each role invites each role through the API.
func TestInvitationRoles(t *testing.T) {
	tc := newTestClinic(t, nil)
	want := inviteTable(t)
	for _, inviter := range policy.Roles {
		actor := tc.newActor(t, inviter)
		for _, invitee := range policy.Roles {
			res := tc.call(t, tc.token(t, actor), "POST", "/api/v1/invitations",
				map[string]string{"email": newEmail(), "role": string(invitee)})
			allowed := slices.Contains(want[inviter], invitee)
			switch {
			case allowed && res.Status != http.StatusCreated:
				t.Errorf("%s invites %s: got %d %s, want 201", inviter, invitee, res.Status, res.Body)
			case !allowed:
				checkAnswer(t, fmt.Sprintf("%s invites %s", inviter, invitee), res, policy.ForbiddenError())
			}
		}
	}
}

// inviteTable parses the second generated table of docs/access-control.md.
func inviteTable(t *testing.T) map[policy.Role][]policy.Role {
	t.Helper()
	raw, err := os.ReadFile(accessDoc)
	if err != nil {
		t.Fatal(err)
	}
	section, err := policy.DocSection(raw)
	if err != nil {
		t.Fatal(err)
	}
	out := map[policy.Role][]policy.Role{}
	_, table, ok := strings.Cut(section, "| Inviter | May invite |")
	if !ok {
		t.Fatalf("%s has no invitation table", accessDoc)
	}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) != 2 {
			continue
		}
		inviter, err := policy.ParseRole(strings.TrimSpace(cells[0]))
		if err != nil {
			continue
		}
		for _, name := range strings.Split(cells[1], ",") {
			if r, err := policy.ParseRole(strings.TrimSpace(name)); err == nil {
				out[inviter] = append(out[inviter], r)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no inviter in the invitation table of %s", accessDoc)
	}
	return out
}
