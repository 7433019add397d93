package auth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

func TestLoginPatientPassword(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.user("Pat@Example.org ", policy.RolePatient, patientPassword)
	if acct.Email != "pat@example.org" {
		t.Fatalf("got email %q, want normalised pat@example.org", acct.Email)
	}
	token := e.login("PAT@example.org", patientPassword)
	if !strings.HasPrefix(token, prefixSession) || len(token) != tokenLength {
		t.Fatalf("got token of length %d, want %d with prefix %s", len(token), tokenLength, prefixSession)
	}
	r := e.do("GET", "/api/v1/test/protected", token, nil)
	if r.status != http.StatusOK || r.body["user"] != acct.ID {
		t.Fatalf("got %d %s, want 200 with user %s", r.status, r.raw, acct.ID)
	}
	r = e.do("GET", "/api/v1/me", token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /me: got %d, want 200", r.status)
	}
	if got := e.audit.count("auth.login", audit.OutcomeSuccess); got != 1 {
		t.Fatalf("got %d auth.login success events, want 1", got)
	}
}

func TestLoginUnknownAndWrongLookAlike(t *testing.T) {
	e := newEnv(t, nil)
	e.user("known@example.org", policy.RolePatient, patientPassword)

	stats := e.db.Bolt().Stats()
	writesBefore := stats.TxStats.GetWrite()
	before := e.svc.hasher.count.Load()
	wrong := e.do("POST", "/api/v1/auth/login", "",
		map[string]string{"email": "known@example.org", "password": "not the password"})
	afterWrong := e.svc.hasher.count.Load()
	unknown := e.do("POST", "/api/v1/auth/login", "",
		map[string]string{"email": "nobody@example.org", "password": "not the password"})
	afterUnknown := e.svc.hasher.count.Load()
	stats = e.db.Bolt().Stats()
	writes := stats.TxStats.GetWrite() - writesBefore

	if wrong.status != http.StatusUnauthorized || unknown.status != http.StatusUnauthorized {
		t.Fatalf("got statuses %d and %d, want 401 for both", wrong.status, unknown.status)
	}
	if string(wrong.raw) != string(unknown.raw) {
		t.Fatalf("bodies differ:\nwrong password: %s\nunknown email:  %s", wrong.raw, unknown.raw)
	}
	if got := afterWrong - before; got != 1 {
		t.Fatalf("wrong password computed %d hashes, want 1", got)
	}
	if got := afterUnknown - afterWrong; got != 1 {
		t.Fatalf("unknown email computed %d hashes, want 1", got)
	}
	// A database write would make the known account's path slower.
	if writes != 0 {
		t.Fatalf("failed sign-ins wrote %d pages, want 0", writes)
	}
}

func TestLoginInvitedAccountLooksUnknown(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.svc.CreateUser(t.Context(), "new@example.org", policy.RolePatient, ""); err != nil {
		t.Fatal(err)
	}
	before := e.svc.hasher.count.Load()
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "new@example.org", "password": "whatever it is"})
	e.want(r, http.StatusUnauthorized, "unauthenticated")
	if got := e.svc.hasher.count.Load() - before; got != 1 {
		t.Fatalf("invited account computed %d hashes, want 1", got)
	}
}
