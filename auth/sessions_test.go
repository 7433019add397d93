package auth

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
)

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.user("pat@example.org", policy.RolePatient, patientPassword)
	var mu sync.Mutex
	var revoked []string
	e.svc.OnRevoke(func(sessionID, userID string) {
		mu.Lock()
		defer mu.Unlock()
		if userID != acct.ID {
			t.Errorf("revoke hook got user %s, want %s", userID, acct.ID)
		}
		revoked = append(revoked, sessionID)
	})

	idle := e.login("pat@example.org", patientPassword)
	e.clock.Advance(DefaultConfig().SessionIdle + time.Second)
	e.want(e.do("GET", "/api/v1/me", idle, nil), http.StatusUnauthorized, "unauthenticated")

	// Activity keeps a session alive until SessionMax.
	active := e.login("pat@example.org", patientPassword)
	for elapsed := time.Duration(0); elapsed < DefaultConfig().SessionMax-20*time.Minute; elapsed += 20 * time.Minute {
		e.clock.Advance(20 * time.Minute)
		if r := e.do("GET", "/api/v1/me", active, nil); r.status != http.StatusOK {
			t.Fatalf("after %s of activity: got %d, want 200", elapsed, r.status)
		}
	}
	e.clock.Advance(40 * time.Minute)
	e.want(e.do("GET", "/api/v1/me", active, nil), http.StatusUnauthorized, "unauthenticated")

	mu.Lock()
	defer mu.Unlock()
	if len(revoked) != 2 {
		t.Fatalf("revoke hook ran for %d sessions, want 2 (both expired)", len(revoked))
	}
}

func TestSessionListRevokeAndLogout(t *testing.T) {
	e := newEnv(t, nil)
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	e.user("other@example.org", policy.RolePatient, patientPassword)
	first := e.login("pat@example.org", patientPassword)
	second := e.login("pat@example.org", patientPassword)
	other := e.login("other@example.org", patientPassword)

	r := e.do("GET", "/api/v1/auth/sessions", first, nil)
	list := r.body["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("got %d sessions, want 2: %s", len(list), r.raw)
	}
	var secondID string
	for _, item := range list {
		s := item.(map[string]any)
		if s["current"] != true {
			secondID = s["id"].(string)
		}
	}
	if strings.Contains(string(r.raw), prefixSession) {
		t.Fatal("session list contains a session token")
	}

	// Another user cannot end this session, and learns nothing about it.
	e.want(e.do("DELETE", "/api/v1/auth/sessions/"+secondID, other, nil), http.StatusNotFound, "not_found")
	if r := e.do("DELETE", "/api/v1/auth/sessions/"+secondID, first, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke own session: got %d, want 204", r.status)
	}
	e.want(e.do("GET", "/api/v1/me", second, nil), http.StatusUnauthorized, "unauthenticated")

	if r := e.do("POST", "/api/v1/auth/logout", first, nil); r.status != http.StatusNoContent {
		t.Fatalf("logout: got %d, want 204", r.status)
	}
	e.want(e.do("GET", "/api/v1/me", first, nil), http.StatusUnauthorized, "unauthenticated")
	if r := e.do("GET", "/api/v1/me", other, nil); r.status != http.StatusOK {
		t.Fatalf("other user's session after logout: got %d, want 200", r.status)
	}
}

func TestMiddlewareRejectsBadTokens(t *testing.T) {
	e := newEnv(t, nil)
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	token := e.login("pat@example.org", patientPassword)
	forged, _ := newToken(prefixSession)

	tests := []struct {
		name   string
		path   string
		header string
		status int
		code   string
	}{
		{"no header", "/api/v1/me", "", http.StatusUnauthorized, "unauthenticated"},
		{"unknown token", "/api/v1/me", "Bearer " + forged, http.StatusUnauthorized, "unauthenticated"},
		{"basic scheme", "/api/v1/me", "Basic " + token, http.StatusUnauthorized, "unauthenticated"},
		{"truncated", "/api/v1/me", "Bearer " + token[:20], http.StatusUnauthorized, "unauthenticated"},
		{"challenge prefix", "/api/v1/me", "Bearer " + prefixChallenge + token[4:], http.StatusUnauthorized, "unauthenticated"},
		{"token in query", "/api/v1/me?access_token=" + token, "", http.StatusBadRequest, "token_in_url"},
		{"token in query with header", "/api/v1/me?x=" + token, "Bearer " + token, http.StatusBadRequest, "token_in_url"},
		{"query name token", "/api/v1/me?token=abc", "Bearer " + token, http.StatusBadRequest, "token_in_url"},
		{"percent-encoded token in query", "/api/v1/me?x=" + strings.Replace(token, "_", "%5F", 1),
			"Bearer " + token, http.StatusBadRequest, "token_in_url"},
		{"percent-encoded prefix letter", "/api/v1/me?x=b%73s_" + token[4:], "Bearer " + token,
			http.StatusBadRequest, "token_in_url"},
		{"token as query name", "/api/v1/me?" + strings.Replace(token, "_", "%5f", 1) + "=1", "Bearer " + token,
			http.StatusBadRequest, "token_in_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", e.srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			e.want(e.send(req), tt.status, tt.code)
		})
	}
	if r := e.do("GET", "/api/v1/me", token, nil); r.status != http.StatusOK {
		t.Fatalf("valid token after the bad ones: got %d, want 200", r.status)
	}
}

// TestTwoAuthorizationHeadersRejected checks that a request with two
// Authorization headers is not authenticated by either, because a proxy in
// front may pick the other one than the server.
func TestTwoAuthorizationHeadersRejected(t *testing.T) {
	e := newEnv(t, nil)
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	token := e.login("pat@example.org", patientPassword)
	forged, _ := newToken(prefixSession)
	for name, second := range map[string]string{"same token": token, "forged token": forged} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest("GET", e.srv.URL+"/api/v1/me", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Add("Authorization", "Bearer "+token)
			req.Header.Add("Authorization", "Bearer "+second)
			e.want(e.send(req), http.StatusUnauthorized, "unauthenticated")
		})
	}
}

func TestBadRequestBodies(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"malformed JSON", "application/json", `{"email": "a@b.org", "password": `, http.StatusBadRequest, "malformed_json"},
		{"wrong content type", "text/plain", `{"email":"a@b.org","password":"x"}`, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"unknown field", "application/json", `{"email":"a@b.org","password":"x","admin":true}`, http.StatusBadRequest, "malformed_json"},
		{"oversized", "application/json", `{"email":"a@b.org","password":"` + strings.Repeat("x", maxAuthBody) + `"}`, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"wrong type", "application/json", `{"email":5,"password":"x"}`, http.StatusBadRequest, "malformed_json"},
		{"two objects", "application/json", `{"email":"a@b.org","password":"x"}{}`, http.StatusBadRequest, "malformed_json"},
		{"invalid email", "application/json", `{"email":"not an email","password":"long enough pw"}`, http.StatusUnauthorized, "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", e.srv.URL+"/api/v1/auth/login", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			e.want(e.send(req), tt.status, tt.code)
		})
	}
}

func TestPurgeRemovesExpiredSessions(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.user("pat@example.org", policy.RolePatient, patientPassword)
	e.login("pat@example.org", patientPassword)
	e.clock.Advance(DefaultConfig().SessionIdle + time.Minute)
	if err := e.svc.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	list, err := e.db.UserSessions(acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("got %d stored sessions after purge, want 0", len(list))
	}
}
