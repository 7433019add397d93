package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

func TestInvitePermissions(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	e.user("doc@example.org", policy.RoleClinician, staffPassword)
	docToken := e.login("doc@example.org", staffPassword)
	e.clock.Advance(totpPeriod * time.Second)
	e.enroll(docToken)
	e.user("bill@example.org", policy.RoleBilling, staffPassword)
	billToken := e.login("bill@example.org", staffPassword)
	e.clock.Advance(totpPeriod * time.Second)
	e.enroll(billToken)
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	patToken := e.login("pat@example.org", patientPassword)

	tests := []struct {
		inviter string
		token   string
		role    string
		status  int
	}{
		{"admin", adminToken, "nurse", http.StatusCreated},
		{"admin", adminToken, "admin", http.StatusCreated},
		{"admin", adminToken, "patient", http.StatusCreated},
		{"clinician", docToken, "patient", http.StatusCreated},
		{"clinician", docToken, "nurse", http.StatusForbidden},
		{"clinician", docToken, "admin", http.StatusForbidden},
		{"billing", billToken, "patient", http.StatusForbidden},
		{"patient", patToken, "patient", http.StatusForbidden},
		{"anonymous", "", "patient", http.StatusUnauthorized},
	}
	for i, tt := range tests {
		t.Run(tt.inviter+" invites "+tt.role, func(t *testing.T) {
			email := strings.ReplaceAll(tt.inviter, " ", "") + string(rune('a'+i)) + "@example.org"
			r := e.do("POST", "/api/v1/invitations", tt.token,
				map[string]string{"email": email, "role": tt.role, "display_name": "Invitee"})
			if r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tt.status)
			}
		})
	}
	if n := e.audit.count("auth.invitation.create", audit.OutcomeDenied); n != 4 {
		t.Fatalf("got %d denied invitation events, want 4", n)
	}
}

func TestInvitationAcceptOnceAndExpiry(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	r := e.do("POST", "/api/v1/invitations", adminToken,
		map[string]string{"email": "nurse@example.org", "role": "nurse"})
	if r.status != http.StatusCreated {
		t.Fatalf("invite: got %d %s, want 201", r.status, r.raw)
	}
	token := r.body["token"].(string)
	if !strings.HasPrefix(token, prefixInvitation) {
		t.Fatalf("got token prefix %q, want %s", token[:4], prefixInvitation)
	}

	// Rules are checked before the token is spent.
	e.want(e.do("POST", "/api/v1/invitations/accept", "",
		map[string]string{"token": token, "password": "short", "display_name": "Nia Nurse"}),
		http.StatusBadRequest, "weak_password")
	e.want(e.do("POST", "/api/v1/invitations/accept", "",
		map[string]string{"token": token, "password": staffPassword}),
		http.StatusBadRequest, "invalid_display_name")
	r = e.do("POST", "/api/v1/invitations/accept", "",
		map[string]string{"token": token, "password": staffPassword, "display_name": "Nia Nurse"})
	if r.status != http.StatusOK {
		t.Fatalf("accept: got %d %s, want 200", r.status, r.raw)
	}
	acct := r.body["account"].(map[string]any)
	if acct["status"] != "active" || acct["role"] != "nurse" || acct["display_name"] != "Nia Nurse" {
		t.Fatalf("got account %v, want an active nurse named Nia Nurse", acct)
	}
	e.want(e.do("POST", "/api/v1/invitations/accept", "",
		map[string]string{"token": token, "password": staffPassword, "display_name": "Nia Nurse"}),
		http.StatusUnauthorized, "invalid_token")

	// An invitation that ran out cannot be accepted.
	r = e.do("POST", "/api/v1/invitations", adminToken, map[string]string{"email": "late@example.org", "role": "patient"})
	late := r.body["token"].(string)
	e.clock.Advance(DefaultConfig().InvitationTTL + time.Second)
	e.want(e.do("POST", "/api/v1/invitations/accept", "",
		map[string]string{"token": late, "password": patientPassword, "display_name": "Late"}),
		http.StatusUnauthorized, "invalid_token")
}

func TestReinviteRetiresOldToken(t *testing.T) {
	e := newEnv(t, nil)
	first, err := e.svc.CreateUser(t.Context(), "pat@example.org", policy.RolePatient, "Pat")
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.CreateUser(t.Context(), "pat@example.org", policy.RolePatient, "Pat")
	if err != nil {
		t.Fatalf("re-invite an invited account: %v", err)
	}
	if first.AccountID != second.AccountID {
		t.Fatalf("got account %s on re-invite, want the same %s", second.AccountID, first.AccountID)
	}
	c := client{Address: "127.0.0.1"}
	if _, err := e.svc.acceptInvitation(t.Context(), first.Token, patientPassword, "", c); err != ErrTokenInvalid {
		t.Fatalf("old token: got %v, want ErrTokenInvalid", err)
	}
	if _, err := e.svc.acceptInvitation(t.Context(), second.Token, patientPassword, "", c); err != nil {
		t.Fatalf("new token: %v", err)
	}
	if _, err := e.svc.CreateUser(t.Context(), "pat@example.org", policy.RolePatient, "Pat"); err == nil {
		t.Fatal("invite of an active account succeeded, want ErrEmailTaken")
	}
}

// TestReinviteOnlyByInviter checks that a clinician or nurse cannot take
// over a patient invitation that someone else issued: a new token would
// let its holder set the password of the invited account.
func TestReinviteOnlyByInviter(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	staff := map[string]string{}
	for _, u := range []struct {
		email string
		role  policy.Role
	}{{"doc@example.org", policy.RoleClinician}, {"other@example.org", policy.RoleClinician},
		{"nina@example.org", policy.RoleNurse}} {
		e.user(u.email, u.role, staffPassword)
		token := e.login(u.email, staffPassword)
		e.clock.Advance(totpPeriod * time.Second)
		e.enroll(token)
		staff[u.email] = token
	}
	invite := func(token string) response {
		return e.do("POST", "/api/v1/invitations", token,
			map[string]string{"email": "pat@example.org", "role": "patient"})
	}
	first := invite(staff["doc@example.org"])
	if first.status != http.StatusCreated {
		t.Fatalf("first invitation: got %d %s, want 201", first.status, first.raw)
	}

	for _, who := range []string{"other@example.org", "nina@example.org"} {
		e.want(invite(staff[who]), http.StatusConflict, "email_taken")
	}
	if n := e.audit.count("auth.invitation.create", audit.OutcomeDenied); n != 2 {
		t.Errorf("got %d denied invitation events, want 2", n)
	}
	// The refused re-invitations left the first token usable.
	grant, err := e.db.Invitation(hashToken(first.body["token"].(string)))
	if err != nil {
		t.Fatalf("first token after refused re-invitations: %v", err)
	}
	if grant.AccountID != first.body["account_id"] {
		t.Fatalf("got grant for account %s, want %s", grant.AccountID, first.body["account_id"])
	}

	for name, token := range map[string]string{"inviter": staff["doc@example.org"], "admin": adminToken} {
		if r := invite(token); r.status != http.StatusCreated {
			t.Errorf("re-invitation by the %s: got %d %s, want 201", name, r.status, r.raw)
		}
	}
}

func TestInviteRejectsBadInput(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	tests := []struct {
		name  string
		body  map[string]string
		code  string
		state int
	}{
		{"invalid email", map[string]string{"email": "no-at-sign", "role": "patient"}, "invalid_email", http.StatusBadRequest},
		{"display name in email", map[string]string{"email": "Pat <pat@example.org>", "role": "patient"}, "invalid_email", http.StatusBadRequest},
		{"unknown role", map[string]string{"email": "x@example.org", "role": "superuser"}, "invalid_role", http.StatusBadRequest},
		{"control character name", map[string]string{"email": "y@example.org", "role": "patient", "display_name": "a\u0007b"}, "invalid_display_name", http.StatusBadRequest},
		{"taken email", map[string]string{"email": "admin@example.org", "role": "admin"}, "email_taken", http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.want(e.do("POST", "/api/v1/invitations", adminToken, tt.body), tt.state, tt.code)
		})
	}
}

func TestSignup(t *testing.T) {
	off := newEnv(t, nil)
	body := map[string]string{"email": "self@example.org", "password": patientPassword, "display_name": "Sam"}
	off.want(off.do("POST", "/api/v1/signup", "", body), http.StatusForbidden, "forbidden")

	on := newEnv(t, func(c *Config) { c.SelfSignup = true })
	r := on.do("POST", "/api/v1/signup", "", body)
	if r.status != http.StatusCreated {
		t.Fatalf("signup: got %d %s, want 201", r.status, r.raw)
	}
	if role := r.body["account"].(map[string]any)["role"]; role != "patient" {
		t.Fatalf("got role %v, want patient", role)
	}
	on.want(on.do("POST", "/api/v1/signup", "", body), http.StatusConflict, "email_taken")
	on.login("self@example.org", patientPassword)
}

func TestPasswordResetFlow(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	acct := e.user("pat@example.org", policy.RolePatient, patientPassword)
	old := e.login("pat@example.org", patientPassword)

	r := e.do("POST", "/api/v1/admin/users/"+acct.ID+"/password-reset", adminToken, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("issue reset: got %d %s, want 201", r.status, r.raw)
	}
	token := r.body["token"].(string)
	const newPassword = "quiet meadow lighthouse"
	e.want(e.do("POST", "/api/v1/password-reset", "", map[string]string{"token": token, "password": "password123"}),
		http.StatusBadRequest, "weak_password")
	if r := e.do("POST", "/api/v1/password-reset", "", map[string]string{"token": token, "password": newPassword}); r.status != http.StatusNoContent {
		t.Fatalf("reset: got %d %s, want 204", r.status, r.raw)
	}
	e.want(e.do("POST", "/api/v1/password-reset", "", map[string]string{"token": token, "password": newPassword}),
		http.StatusUnauthorized, "invalid_token")
	e.want(e.do("GET", "/api/v1/me", old, nil), http.StatusUnauthorized, "unauthenticated")
	e.want(e.attempt("pat@example.org", patientPassword), http.StatusUnauthorized, "unauthenticated")
	e.login("pat@example.org", newPassword)

	r = e.do("POST", "/api/v1/admin/users/"+acct.ID+"/password-reset", adminToken, nil)
	expiring := r.body["token"].(string)
	e.clock.Advance(DefaultConfig().ResetTTL + time.Second)
	e.want(e.do("POST", "/api/v1/password-reset", "", map[string]string{"token": expiring, "password": "another fine passphrase"}),
		http.StatusUnauthorized, "invalid_token")
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t, nil)
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	current := e.login("pat@example.org", patientPassword)
	other := e.login("pat@example.org", patientPassword)
	const newPassword = "quiet meadow lighthouse"

	e.want(e.do("POST", "/api/v1/me/password", current,
		map[string]string{"current_password": "not it at all", "new_password": newPassword}),
		http.StatusForbidden, "wrong_password")
	e.want(e.do("POST", "/api/v1/me/password", current,
		map[string]string{"current_password": patientPassword, "new_password": "pat@example.org1"}),
		http.StatusBadRequest, "weak_password")
	r := e.do("POST", "/api/v1/me/password", current,
		map[string]string{"current_password": patientPassword, "new_password": newPassword})
	if r.status != http.StatusNoContent {
		t.Fatalf("change password: got %d %s, want 204", r.status, r.raw)
	}
	if r := e.do("GET", "/api/v1/me", current, nil); r.status != http.StatusOK {
		t.Fatalf("current session after the change: got %d, want 200", r.status)
	}
	e.want(e.do("GET", "/api/v1/me", other, nil), http.StatusUnauthorized, "unauthenticated")
	e.login("pat@example.org", newPassword)
}
