package auth

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

func TestAdminDisableEnable(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	acct := e.user("pat@example.org", policy.RolePatient, patientPassword)
	session := e.login("pat@example.org", patientPassword)

	r := e.do("POST", "/api/v1/admin/users/"+acct.ID+"/disable", adminToken, nil)
	if r.status != http.StatusOK {
		t.Fatalf("disable: got %d %s, want 200", r.status, r.raw)
	}
	e.want(e.do("GET", "/api/v1/me", session, nil), http.StatusUnauthorized, "unauthenticated")
	e.want(e.attempt("pat@example.org", patientPassword), http.StatusForbidden, "forbidden")
	e.want(e.attempt("pat@example.org", "wrong password here"), http.StatusUnauthorized, "unauthenticated")

	if r := e.do("POST", "/api/v1/admin/users/"+acct.ID+"/enable", adminToken, nil); r.status != http.StatusOK {
		t.Fatalf("enable: got %d %s, want 200", r.status, r.raw)
	}
	e.login("pat@example.org", patientPassword)
	e.want(e.do("POST", "/api/v1/admin/users/"+acct.ID+"/enable", adminToken, nil), http.StatusConflict, "invalid_state")
}

func TestAdminChangeRoleRevokes(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	acct := e.user("pat@example.org", policy.RolePatient, patientPassword)
	session := e.login("pat@example.org", patientPassword)

	e.want(e.do("POST", "/api/v1/admin/users/"+acct.ID+"/role", adminToken, map[string]string{"role": "god"}),
		http.StatusBadRequest, "invalid_role")
	r := e.do("POST", "/api/v1/admin/users/"+acct.ID+"/role", adminToken, map[string]string{"role": "nurse"})
	if r.status != http.StatusOK {
		t.Fatalf("change role: got %d %s, want 200", r.status, r.raw)
	}
	e.want(e.do("GET", "/api/v1/me", session, nil), http.StatusUnauthorized, "unauthenticated")
	// Now staff: the new session must enroll a second factor first.
	nurse := e.login("pat@example.org", patientPassword)
	e.want(e.do("GET", "/api/v1/test/protected", nurse, nil), http.StatusForbidden, "second_factor_required")

	found := false
	for _, ev := range e.audit.all() {
		if ev.Type == "admin.account" && ev.Detail["action"] == "change_role" && ev.Detail["new_role"] == "nurse" && ev.TargetID == acct.ID {
			found = true
		}
	}
	if !found {
		t.Fatal("no admin.account event with action change_role and new_role nurse")
	}
}

func TestAdminResetSecondFactor(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	acct := e.user("doc@example.org", policy.RoleClinician, staffPassword)
	docToken := e.login("doc@example.org", staffPassword)
	e.clock.Advance(totpPeriod * time.Second)
	e.enroll(docToken)

	r := e.do("POST", "/api/v1/admin/users/"+acct.ID+"/reset-second-factor", adminToken, nil)
	if r.status != http.StatusOK || r.body["account"].(map[string]any)["second_factor"] != false {
		t.Fatalf("reset second factor: got %d %s, want 200 with second_factor false", r.status, r.raw)
	}
	e.want(e.do("GET", "/api/v1/me", docToken, nil), http.StatusUnauthorized, "unauthenticated")
	// Without a second factor the password step gives an enrollment-only session.
	again := e.login("doc@example.org", staffPassword)
	e.want(e.do("GET", "/api/v1/test/protected", again, nil), http.StatusForbidden, "second_factor_required")
}

func TestAdminEndpointsDenyOthers(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	adminAcct, _ := e.svc.AccountByEmail(t.Context(), "admin@example.org")
	acct := e.user("doc@example.org", policy.RoleClinician, staffPassword)
	docToken := e.login("doc@example.org", staffPassword)
	e.clock.Advance(totpPeriod * time.Second)
	e.enroll(docToken)

	// An administrator without a second-factor session is refused too.
	e.user("admin2@example.org", policy.RoleAdmin, staffPassword)
	halfAdmin := e.login("admin2@example.org", staffPassword)

	paths := []string{"disable", "enable", "unlock", "reset-second-factor", "password-reset"}
	for _, p := range paths {
		e.want(e.do("POST", "/api/v1/admin/users/"+acct.ID+"/"+p, docToken, nil), http.StatusForbidden, "forbidden")
		e.want(e.do("POST", "/api/v1/admin/users/"+acct.ID+"/"+p, halfAdmin, nil), http.StatusForbidden, "second_factor_required")
		e.want(e.do("POST", "/api/v1/admin/users/"+acct.ID+"/"+p, "", nil), http.StatusUnauthorized, "unauthenticated")
	}
	e.want(e.do("GET", "/api/v1/admin/users", docToken, nil), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", "/api/v1/admin/users/"+adminAcct.ID+"/disable", adminToken, nil), http.StatusConflict, "invalid_state")
	e.want(e.do("POST", "/api/v1/admin/users/0123/disable", adminToken, nil), http.StatusNotFound, "not_found")
	e.want(e.do("POST", "/api/v1/admin/users/"+strings.Repeat("a", 32)+"/disable", adminToken, nil), http.StatusNotFound, "not_found")
}

func TestAdminListUsersPages(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	for _, email := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		e.user(email, policy.RolePatient, patientPassword)
	}
	seen := map[string]bool{}
	after := ""
	for range 10 {
		path := "/api/v1/admin/users?limit=2"
		if after != "" {
			path += "&after=" + after
		}
		r := e.do("GET", path, adminToken, nil)
		if r.status != http.StatusOK {
			t.Fatalf("list: got %d %s, want 200", r.status, r.raw)
		}
		if strings.Contains(string(r.raw), "password_hash") || strings.Contains(string(r.raw), "$argon2id$") {
			t.Fatal("account list contains password hashes")
		}
		for _, u := range r.body["users"].([]any) {
			seen[u.(map[string]any)["id"].(string)] = true
		}
		next, ok := r.body["next_after"].(string)
		if !ok {
			break
		}
		after = next
	}
	if len(seen) != 4 {
		t.Fatalf("paged through %d accounts, want 4", len(seen))
	}
	e.want(e.do("GET", "/api/v1/admin/users?limit=9999", adminToken, nil), http.StatusBadRequest, "invalid_limit")
}

func TestAuditEventsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, nil)
	adminToken := e.admin()
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	e.attempt("pat@example.org", "a wrong guess here")
	token := e.login("pat@example.org", patientPassword)
	secret, codes := e.enroll(token)
	secrets := append([]string{patientPassword, staffPassword, "a wrong guess here", secret, token, adminToken}, codes...)
	for _, ev := range e.audit.all() {
		fields := []string{ev.ActorID, ev.TargetID, ev.Address}
		for k, v := range ev.Detail {
			fields = append(fields, k, v)
		}
		for _, f := range fields {
			for _, s := range secrets {
				if strings.Contains(f, s) {
					t.Fatalf("audit event %s contains a secret", ev.Type)
				}
			}
			if looksLikeToken(f) {
				t.Fatalf("audit event %s contains a token", ev.Type)
			}
		}
	}
	logs := e.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Fatal("server log contains a secret")
		}
	}
	if n := e.audit.count("auth.login", audit.OutcomeFailure); n != 1 {
		t.Fatalf("got %d failed login events, want 1", n)
	}
}

func TestSecretTypesRedactInLogs(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	sessionToken, _ := newToken(prefixSession)
	inviteToken, _ := newToken(prefixInvitation)
	resetToken, _ := newToken(prefixReset)
	log.Info("values",
		"session", NewSession{Token: sessionToken, ID: "s1"},
		"invitation", Invitation{Token: inviteToken, AccountID: "a1"},
		"reset", PasswordReset{Token: resetToken, AccountID: "a1"},
		"enrollment", Enrollment{Secret: "JBSWY3DPEHPK3PXP", URI: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"},
	)
	out := buf.String()
	if looksLikeToken(out) || strings.Contains(out, "JBSWY3DPEHPK3PXP") {
		t.Fatalf("log output contains a secret: %s", out)
	}
	if !strings.Contains(out, "s1") || !strings.Contains(out, "a1") {
		t.Fatalf("log output lost the ids: %s", out)
	}
}
