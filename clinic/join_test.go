package clinic

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

func TestAuthorizeJoin(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	start := epoch.Add(2 * time.Hour)
	c := f.addConsultation(t, "pat", start, StatusScheduled,
		store.Participant{UserID: "doc", Kind: KindClinician},
		store.Participant{UserID: "nur", Kind: KindClinician},
		store.Participant{UserID: "interp", Kind: KindGuest},
		store.Participant{UserID: "adm", Kind: KindClinician})
	f.addCareTeam(t, "pat", store.CareTeamMember{UserID: "teamdoc", Role: "clinician"})
	inWindow := start.Add(-10 * time.Minute)

	tests := []struct {
		name  string
		actor policy.Actor
		id    string
		now   time.Time
		want  Grant
		err   error
	}{
		{"patient", actorOf("pat", policy.RolePatient), c.ID, inWindow,
			Grant{Role: policy.RolePatient, Kind: KindPatient}, nil},
		{"clinician host", actorOf("doc", policy.RoleClinician), c.ID, inWindow,
			Grant{Host: true, Role: policy.RoleClinician, Kind: KindClinician}, nil},
		{"nurse is no host", actorOf("nur", policy.RoleNurse), c.ID, inWindow,
			Grant{Role: policy.RoleNurse, Kind: KindClinician}, nil},
		{"guest", actorOf("interp", policy.RolePatient), c.ID, inWindow,
			Grant{Role: policy.RolePatient, Kind: KindGuest}, nil},
		{"listed admin", actorOf("adm", policy.RoleAdmin), c.ID, inWindow, Grant{}, ErrNotFound},
		{"care team non-participant", actorOf("teamdoc", policy.RoleClinician), c.ID, inWindow, Grant{}, ErrNotFound},
		{"stranger", actorOf("other", policy.RolePatient), c.ID, inWindow, Grant{}, ErrNotFound},
		{"guessed id", actorOf("pat", policy.RolePatient), newID(), inWindow, Grant{}, ErrNotFound},
		{"malformed id", actorOf("pat", policy.RolePatient), "../c/x", inWindow, Grant{}, ErrNotFound},
		{"anonymous", policy.Actor{}, c.ID, inWindow, Grant{}, ErrNotFound},
		{"staff without second factor", policy.Actor{UserID: "doc", Role: policy.RoleClinician}, c.ID, inWindow,
			Grant{}, ErrSecondFactor},
		{"window opens", actorOf("pat", policy.RolePatient), c.ID, start.Add(-15 * time.Minute),
			Grant{Role: policy.RolePatient, Kind: KindPatient}, nil},
		{"too early", actorOf("pat", policy.RolePatient), c.ID, start.Add(-15*time.Minute - time.Second),
			Grant{}, ErrOutsideWindow},
		{"window closes", actorOf("pat", policy.RolePatient), c.ID, c.End.Add(30 * time.Minute),
			Grant{Role: policy.RolePatient, Kind: KindPatient}, nil},
		{"too late", actorOf("pat", policy.RolePatient), c.ID, c.End.Add(30*time.Minute + time.Second),
			Grant{}, ErrOutsideWindow},
		{"stranger too early", actorOf("other", policy.RolePatient), c.ID, epoch, Grant{}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.AuthorizeJoin(ctx, tt.actor, tt.id, tt.now)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("got error %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("got grant %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAuthorizeJoinIdenticalDenials(t *testing.T) {
	f := newFixture(t, nil)
	c := f.addConsultation(t, "pat", epoch.Add(time.Hour), StatusScheduled)
	stranger := actorOf("other", policy.RolePatient)
	_, errMissing := f.svc.AuthorizeJoin(context.Background(), stranger, newID(), epoch.Add(time.Hour))
	_, errForeign := f.svc.AuthorizeJoin(context.Background(), stranger, c.ID, epoch.Add(time.Hour))
	if errMissing != errForeign {
		t.Errorf("got %v for a missing id and %v for a foreign one, want the identical error", errMissing, errForeign)
	}
	if n := len(f.events.ofType("access.denied")); n != 2 {
		t.Errorf("got %d access.denied events, want 2", n)
	}
}

func TestAuthorizeJoinStatus(t *testing.T) {
	f := newFixture(t, nil)
	start := epoch.Add(time.Hour)
	for _, st := range []Status{StatusRequested, StatusScheduled, StatusWaiting, StatusInProgress,
		StatusCompleted, StatusCancelled, StatusNoShow} {
		t.Run(string(st), func(t *testing.T) {
			c := f.addConsultation(t, "pat", start, st)
			_, err := f.svc.AuthorizeJoin(context.Background(), actorOf("pat", policy.RolePatient), c.ID, start)
			want := st.joinable()
			if (err == nil) != want {
				t.Fatalf("got error %v, want joinable %v", err, want)
			}
			if err != nil && !errors.Is(err, ErrNotJoinable) {
				t.Errorf("got %v, want ErrNotJoinable", err)
			}
		})
	}
}

func TestSetStatus(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	c := f.addConsultation(t, "pat", epoch.Add(time.Hour), StatusScheduled)
	steps := []struct {
		to  Status
		err error
	}{
		{StatusWaiting, nil},
		{StatusWaiting, nil}, // repeating the current status is a no-op
		{StatusInProgress, nil},
		{StatusScheduled, ErrInvalidTransition},
		{StatusCompleted, nil},
		{StatusInProgress, ErrInvalidTransition},
	}
	for i, st := range steps {
		if err := f.svc.SetStatus(ctx, c.ID, st.to); !errors.Is(err, st.err) || (st.err == nil && err != nil) {
			t.Fatalf("step %d to %s: got %v, want %v", i, st.to, err, st.err)
		}
	}
	got, err := f.svc.Consultation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusCompleted {
		t.Errorf("got status %s, want completed", got.Status)
	}
	if n := len(f.events.ofType("consultation.status")); n != 3 {
		t.Errorf("got %d consultation.status events, want 3", n)
	}
	if err := f.svc.SetStatus(ctx, newID(), StatusWaiting); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: got %v, want ErrNotFound", err)
	}
}

func TestConversationMembers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.addCareTeam(t, "pat", store.CareTeamMember{UserID: "nur", Role: "nurse"})
	c := f.addConsultation(t, "pat", epoch.Add(time.Hour), StatusScheduled,
		store.Participant{UserID: "doc", Kind: KindClinician},
		store.Participant{UserID: "interp", Kind: KindGuest})
	tests := []struct {
		name string
		res  policy.Resource
		want []string
		err  error
	}{
		{"consultation", policy.Resource{Kind: policy.KindConversation, ConsultationID: c.ID},
			[]string{"pat", "doc", "interp", "nur"}, nil},
		{"care thread", policy.Resource{Kind: policy.KindConversation, PatientID: "pat"},
			[]string{"pat", "nur"}, nil},
		{"consultation of another patient", policy.Resource{ConsultationID: c.ID, PatientID: "other"}, nil, ErrNotFound},
		{"unknown consultation", policy.Resource{ConsultationID: newID()}, nil, ErrNotFound},
		{"nothing placed", policy.Resource{Kind: policy.KindConversation}, nil, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.ConversationMembers(ctx, tt.res)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("got error %v, want %v", err, tt.err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
