package clinic

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/policy/policytest"
	"github.com/bedside-health/bedside/store"
)

type build = func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool)

// onConsultation builds an attempt on a fresh consultation in status.
func onConsultation(w world, status Status, attempt func(t *testing.T, c *store.Consultation) policytest.Attempt) build {
	return func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		c, held, ok := w.consultation(t, actor, rel, status)
		if !ok {
			return policytest.Attempt{}, 0, false
		}
		a := attempt(t, c)
		if a.Resource == nil {
			res := policy.Consultation(c.ID)
			a.Resource = &res
		}
		return a, held, true
	}
}

// onPatient builds an attempt on a fresh patient.
func onPatient(w world, attempt func(t *testing.T, patient string) policytest.Attempt) build {
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

// onAccount builds an Authorize call on a fresh account resource.
func onAccount(w world, action policy.Action, kind policy.Kind) build {
	return func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		u, held, ok := w.account(t, actor, rel)
		if !ok {
			return policytest.Attempt{}, 0, false
		}
		res := policy.Resource{Kind: kind, ID: newID(), UserID: u}
		return authorizeCall(w, action, res), held, true
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

func authorizeCall(w world, action policy.Action, res policy.Resource) policytest.Attempt {
	return policytest.Attempt{
		Call: func(ctx context.Context, actor policy.Actor) error {
			return w.f.svc.Authorize(ctx, actor, action, res)
		},
		Resource: &res,
	}
}

func get(p string) policytest.Attempt { return policytest.Attempt{Method: "GET", Path: p} }

func post(p string, body any) policytest.Attempt {
	return policytest.Attempt{Method: "POST", Path: p, Body: body}
}

// routeCases lists every clinic route with the action it needs.
func routeCases(w world) []policytest.Case {
	later := func() map[string]any {
		s := w.start().Add(time.Hour)
		return map[string]any{"start": rfc(s), "end": rfc(s.Add(20 * time.Minute))}
	}
	return []policytest.Case{
		{Name: "GET care-team", Action: policy.ActionCareTeamRead,
			Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
				return get(path("/api/v1/patients/%s/care-team", p))
			})},
		{Name: "PUT care-team", Action: policy.ActionCareTeamManage,
			Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
				return policytest.Attempt{Method: "PUT", Path: path("/api/v1/patients/%s/care-team", p),
					Body: map[string]any{"members": []map[string]any{{"user_id": newID(), "role": "nurse"}}}}
			})},
		{Name: "POST care-team", Action: policy.ActionCareTeamManage,
			Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
				return post(path("/api/v1/patients/%s/care-team", p), map[string]any{"user_id": newID(), "role": "clinician"})
			})},
		{Name: "DELETE care-team member", Action: policy.ActionCareTeamManage,
			Build: onPatient(w, func(t *testing.T, p string) policytest.Attempt {
				m := newID()
				w.f.addCareTeam(t, p, store.CareTeamMember{UserID: m, Role: "nurse"})
				return policytest.Attempt{Method: "DELETE", Path: path("/api/v1/patients/%s/care-team/%s", p, m)}
			})},
		{Name: "GET consultations", Action: policy.ActionConsultationList, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt { return get("/api/v1/consultations") })},
		{Name: "POST consultations", Action: policy.ActionConsultationCreate,
			Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
				body := later()
				body["patient_id"] = p
				return post("/api/v1/consultations", body)
			})},
		{Name: "POST consultations/requests", Action: policy.ActionConsultationRequest,
			Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
				body := later()
				body["patient_id"] = p
				return post("/api/v1/consultations/requests", body)
			})},
		{Name: "GET consultation", Action: policy.ActionConsultationRead,
			Build: onConsultation(w, StatusScheduled, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return get("/api/v1/consultations/" + c.ID)
			})},
		{Name: "POST confirm", Action: policy.ActionConsultationConfirm,
			Build: onConsultation(w, StatusRequested, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return post(path("/api/v1/consultations/%s/confirm", c.ID), nil)
			})},
		{Name: "POST cancel", Action: policy.ActionConsultationCancel,
			Build: onConsultation(w, StatusScheduled, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return post(path("/api/v1/consultations/%s/cancel", c.ID), nil)
			})},
		{Name: "POST reschedule", Action: policy.ActionConsultationReschedule,
			Build: onConsultation(w, StatusScheduled, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return post(path("/api/v1/consultations/%s/reschedule", c.ID), later())
			})},
		{Name: "POST guests", Action: policy.ActionConsultationInviteGuest,
			Build: onConsultation(w, StatusScheduled, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return post(path("/api/v1/consultations/%s/guests", c.ID), map[string]any{"user_id": newID()})
			})},
		{Name: "GET billing", Action: policy.ActionBillingRead,
			Build: onConsultation(w, StatusCompleted, func(t *testing.T, c *store.Consultation) policytest.Attempt {
				w.billingEntry(t, c)
				return get(path("/api/v1/consultations/%s/billing", c.ID))
			})},
		{Name: "POST billing", Action: policy.ActionBillingWrite,
			Build: onConsultation(w, StatusCompleted, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return post(path("/api/v1/consultations/%s/billing", c.ID), sampleBilling)
			})},
		{Name: "PUT billing entry", Action: policy.ActionBillingWrite,
			Build: onConsultation(w, StatusCompleted, func(t *testing.T, c *store.Consultation) policytest.Attempt {
				e := w.billingEntry(t, c)
				return policytest.Attempt{Method: "PUT", Path: path("/api/v1/consultations/%s/billing/%s", c.ID, e),
					Body: sampleBilling}
			})},
		{Name: "GET billing overview", Action: policy.ActionBillingRead, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt { return get("/api/v1/billing") })},
	}
}

// callCases covers the actions other packages check through Authorize and
// AuthorizeJoin, on resources resolved by this package.
func callCases(w world) []policytest.Case {
	joinAt := w.start()
	var cases []policytest.Case
	for _, a := range []policy.Action{policy.ActionAccountReadSelf, policy.ActionAccountUpdateSelf,
		policy.ActionAccountRead, policy.ActionAccountManage} {
		cases = append(cases, policytest.Case{Name: "Authorize " + string(a), Action: a,
			Build: onAccount(w, a, policy.KindAccount)})
	}
	for _, a := range []policy.Action{policy.ActionDeviceRegisterOwn, policy.ActionDeviceList, policy.ActionDeviceRevoke} {
		cases = append(cases, policytest.Case{Name: "Authorize " + string(a), Action: a,
			Build: onAccount(w, a, policy.KindDevice)})
	}
	for _, a := range []policy.Action{policy.ActionConversationRead, policy.ActionConversationPost,
		policy.ActionConversationDelete, policy.ActionAttachmentUpload, policy.ActionAttachmentDownload} {
		cases = append(cases,
			policytest.Case{Name: "Authorize " + string(a) + " consultation thread", Action: a,
				Build: onConsultation(w, StatusCompleted, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
					return authorizeCall(w, a, policy.Resource{Kind: policy.KindConversation, ID: newID(), ConsultationID: c.ID})
				})},
			policytest.Case{Name: "Authorize " + string(a) + " care thread", Action: a,
				Build: onPatient(w, func(_ *testing.T, p string) policytest.Attempt {
					return authorizeCall(w, a, policy.Resource{Kind: policy.KindConversation, ID: newID(), PatientID: p})
				})})
	}
	for _, a := range []policy.Action{policy.ActionAuditRead, policy.ActionAlertRead, policy.ActionAlertAck} {
		cases = append(cases, policytest.Case{Name: "Authorize " + string(a), Action: a, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt {
				return authorizeCall(w, a, policy.Resource{Kind: policy.KindAudit})
			})})
	}
	cases = append(cases,
		policytest.Case{Name: "Authorize invitation.create patient", Action: policy.ActionInvitationCreate, Collection: true,
			Build: onCollection(func(*testing.T) policytest.Attempt {
				return authorizeCall(w, policy.ActionInvitationCreate, policy.Resource{Kind: policy.KindInvitation, Role: policy.RolePatient})
			})},
		policytest.Case{Name: "Authorize consultation.admit", Action: policy.ActionConsultationAdmit,
			Build: onConsultation(w, StatusWaiting, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return authorizeCall(w, policy.ActionConsultationAdmit, policy.Consultation(c.ID))
			})},
		policytest.Case{Name: "AuthorizeJoin", Action: policy.ActionConsultationJoin, HideAll: true,
			Build: onConsultation(w, StatusScheduled, func(_ *testing.T, c *store.Consultation) policytest.Attempt {
				return policytest.Attempt{Call: func(ctx context.Context, actor policy.Actor) error {
					if actor.Anonymous() {
						return api.Unauthorized()
					}
					_, err := w.f.svc.AuthorizeJoin(ctx, actor, c.ID, joinAt)
					return joinError(err)
				}}
			})},
	)
	return cases
}

// joinError maps AuthorizeJoin's errors to the HTTP responses a route would
// send, so the matrix compares them like responses.
func joinError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSecondFactor):
		return policy.SecondFactorError()
	case errors.Is(err, ErrNotFound):
		return api.NotFound()
	}
	return err
}

func TestAccessMatrix(t *testing.T) {
	f := newFixture(t, nil)
	f.db.Bolt().NoSync = true // durability is not under test; fsync per cell is slow
	rt := api.NewRouter(nil)
	f.svc.Register(rt)
	w := world{f: f}
	stats := policytest.Run(t, policytest.Matrix{
		Handler:  rt,
		Doc:      "../docs/access-control.md",
		Cases:    append(routeCases(w), callCases(w)...),
		Resolver: f.svc,
		Actions:  policy.Actions(),
	})
	t.Logf("checked %d cells (%d allowed), skipped %d relations that do not apply", stats.Cells, stats.Allowed, stats.Skipped)
	if stats.Allowed == 0 || stats.Allowed == stats.Cells {
		t.Errorf("got %d allowed of %d cells, want a mix", stats.Allowed, stats.Cells)
	}
}
