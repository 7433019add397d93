package auth

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

func (e *env) attempt(email, password string) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
}

func TestBackoffAndLockoutAlike(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.user("known@example.org", policy.RolePatient, patientPassword)
	cfg := e.svc.cfg

	// Known and unknown emails see the same statuses at every step.
	for _, email := range []string{"known@example.org", "unknown@example.org"} {
		for i := 1; i <= cfg.LockoutAfter; i++ {
			r := e.attempt(email, "wrong password here")
			if r.status != http.StatusUnauthorized {
				t.Fatalf("%s attempt %d: got %d, want 401; body %s", email, i, r.status, r.raw)
			}
			if i >= cfg.BackoffAfter {
				blocked := e.attempt(email, "wrong password here")
				e.want(blocked, http.StatusTooManyRequests, "rate_limited")
				wantWait := e.svc.throttle.wait(i, cfg.BackoffAfter, true)
				if got := blocked.header.Get("Retry-After"); got != strconv.Itoa(int(wantWait/time.Second)) {
					t.Fatalf("%s after %d failures: got Retry-After %q, want %d", email, i, got, wantWait/time.Second)
				}
				if i < cfg.LockoutAfter {
					e.clock.Advance(wantWait)
				}
			}
		}
	}

	got, err := e.svc.Account(t.Context(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusLocked {
		t.Fatalf("got status %s after %d failures, want locked", got.Status, cfg.LockoutAfter)
	}
	if n := e.audit.count("auth.lockout", audit.OutcomeSuccess); n != 1 {
		t.Fatalf("got %d lockout events, want 1", n)
	}
	// Locked: even the right password waits, for known and unknown alike.
	e.want(e.attempt("known@example.org", patientPassword), http.StatusTooManyRequests, "rate_limited")
	e.want(e.attempt("unknown@example.org", patientPassword), http.StatusTooManyRequests, "rate_limited")

	// The lock runs out by itself.
	e.clock.Advance(cfg.LockoutDuration)
	e.login("known@example.org", patientPassword)
	got, _ = e.svc.Account(t.Context(), acct.ID)
	if got.Status != StatusActive || got.FailedLogins != 0 {
		t.Fatalf("after the lock ran out: got status %s with %d failures, want active with 0", got.Status, got.FailedLogins)
	}
}

// TestWrongCodesLockAcrossChallenges checks that the right password does
// not clear the failures of wrong second-factor codes: someone who knows
// the password must not be able to guess codes over many challenges
// without reaching the lock.
func TestWrongCodesLockAcrossChallenges(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.svc.Config()
	acct := e.user("doc@example.org", policy.RoleClinician, staffPassword)
	secret, _ := e.enroll(e.login("doc@example.org", staffPassword))
	e.clock.Advance(totpPeriod * time.Second)
	wrong := "000000"
	if e.code(secret, e.clock.Now()) == wrong {
		wrong = "000001"
	}

	failures := 0
	for round := 0; failures < cfg.LockoutAfter && round < 4*cfg.LockoutAfter; round++ {
		r := e.do("POST", "/api/v1/auth/login", "",
			map[string]string{"email": "doc@example.org", "password": staffPassword})
		if r.status == http.StatusTooManyRequests {
			e.clock.Advance(cfg.MaxBackoff)
			continue
		}
		challenge, _ := r.body["challenge"].(string)
		if r.status != http.StatusOK || challenge == "" {
			t.Fatalf("password step after %d wrong codes: got %d %s, want 200 with a challenge",
				failures, r.status, r.raw)
		}
		for range cfg.ChallengeAttempts {
			r := e.secondFactor(challenge, wrong)
			if r.status != http.StatusUnauthorized {
				break // the challenge is used up, or the email is backing off
			}
			failures++
		}
	}

	got := mustStored(t, e, acct.ID)
	if got.Status != string(StatusLocked) {
		t.Fatalf("got status %s after %d wrong codes over several challenges, want locked",
			got.Status, failures)
	}
	if n := e.audit.count("auth.lockout", audit.OutcomeSuccess); n != 1 {
		t.Errorf("got %d lockout events, want 1", n)
	}
	// The right code no longer helps: the password step waits for the lock.
	e.want(e.do("POST", "/api/v1/auth/login", "",
		map[string]string{"email": "doc@example.org", "password": staffPassword}),
		http.StatusTooManyRequests, "rate_limited")
}

func TestStoredLockSurvivesRestart(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.user("known@example.org", policy.RolePatient, patientPassword)
	for range e.svc.cfg.LockoutAfter - 1 {
		at, err := e.svc.throttle.begin("known@example.org")
		if err != nil {
			t.Fatal(err)
		}
		at.fail("192.0.2.1")
		e.clock.Advance(e.svc.cfg.MaxBackoff)
	}
	at, err := e.svc.throttle.begin("known@example.org")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.failAttempt(t.Context(), at, mustStored(t, e, acct.ID), client{Address: "192.0.2.1"}, "wrong_password")
	if got := mustStored(t, e, acct.ID).Status; got != string(StatusLocked) {
		t.Fatalf("got stored status %s, want locked", got)
	}
	// A fresh throttle stands for a restarted server.
	e.svc.throttle = newThrottle(e.svc.cfg, e.clock.Now)
	e.want(e.attempt("known@example.org", patientPassword), http.StatusTooManyRequests, "rate_limited")
}

func TestAdminUnlock(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.user("pat@example.org", policy.RolePatient, patientPassword)
	for range e.svc.cfg.LockoutAfter {
		e.attempt("pat@example.org", "wrong password here")
		e.clock.Advance(e.svc.cfg.MaxBackoff)
	}
	adminToken := e.admin()
	e.want(e.attempt("pat@example.org", patientPassword), http.StatusTooManyRequests, "rate_limited")
	r := e.do("POST", "/api/v1/admin/users/"+acct.ID+"/unlock", adminToken, nil)
	if r.status != http.StatusOK {
		t.Fatalf("unlock: got %d %s, want 200", r.status, r.raw)
	}
	e.login("pat@example.org", patientPassword)
}

func TestAddressBackoff(t *testing.T) {
	e := newEnv(t, nil)
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	for i := range e.svc.cfg.AddressBackoffAfter {
		r := e.attempt(fmt.Sprintf("guess%d@example.org", i), "wrong password here")
		e.want(r, http.StatusUnauthorized, "unauthenticated")
	}
	// The address now backs off, even for a valid account.
	e.want(e.attempt("pat@example.org", patientPassword), http.StatusTooManyRequests, "rate_limited")
	e.clock.Advance(e.svc.cfg.BackoffBase)
	e.login("pat@example.org", patientPassword)
}

func TestAddressRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.AddressRate = 1
		c.AddressBurst = 3
	})
	for range 3 {
		e.want(e.attempt("a@example.org", "wrong password here"), http.StatusUnauthorized, "unauthenticated")
	}
	r := e.attempt("b@example.org", "wrong password here")
	e.want(r, http.StatusTooManyRequests, "rate_limited")
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Fatalf("got Retry-After %q, want 1", got)
	}
}

func TestBruteForceRunLeavesServerUsable(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	e := newEnv(t, nil)
	e.user("target@example.org", policy.RolePatient, patientPassword)
	e.user("bystander@example.org", policy.RolePatient, patientPassword)
	bystander := e.login("bystander@example.org", patientPassword)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25 && ctx.Err() == nil; i++ {
				r := e.attempt("target@example.org", fmt.Sprintf("guess %d-%d password", w, i))
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("brute-force run did not finish within 20s")
	}
	if statuses[http.StatusOK] != 0 {
		t.Fatalf("a guess succeeded: %v", statuses)
	}
	if statuses[http.StatusTooManyRequests] < 150 {
		t.Fatalf("got status counts %v, want most of 200 attempts throttled", statuses)
	}
	if n := statuses[http.StatusUnauthorized]; n > e.svc.cfg.LockoutAfter {
		t.Fatalf("got %d password checks, want at most %d before the lock", n, e.svc.cfg.LockoutAfter)
	}
	if r := e.do("GET", "/api/v1/me", bystander, nil); r.status != http.StatusOK {
		t.Fatalf("bystander's session during the run: got %d, want 200", r.status)
	}
}

func TestLRUEvictsOldest(t *testing.T) {
	l := newLRU[int](3)
	for i, k := range []string{"a", "b", "c"} {
		l.put(k, i)
	}
	l.get("a")
	l.put("d", 3)
	if _, ok := l.get("b"); ok {
		t.Fatal("got b after eviction, want the least recently used entry gone")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := l.get(k); !ok {
			t.Fatalf("entry %s missing, want it kept", k)
		}
	}
	if l.len() != 3 {
		t.Fatalf("got %d entries, want 3", l.len())
	}
}

func TestThrottleTableBounded(t *testing.T) {
	cfg := testConfig()
	cfg.ThrottleEntries = 16
	th := newThrottle(cfg, time.Now)
	for i := range 1000 {
		at, err := th.begin(fmt.Sprintf("user%d@example.org", i))
		if err != nil {
			t.Fatal(err)
		}
		at.fail(fmt.Sprintf("198.51.100.%d", i%250))
	}
	if th.emails.len() != 16 || th.addrs.len() != 16 {
		t.Fatalf("got %d email and %d address entries, want 16 each", th.emails.len(), th.addrs.len())
	}
}

func TestInflightAttemptsCountTowardBackoff(t *testing.T) {
	cfg := testConfig()
	th := newThrottle(cfg, time.Now)
	var open []*attempt
	for i := range cfg.BackoffAfter {
		at, err := th.begin("pat@example.org")
		if err != nil {
			t.Fatalf("attempt %d while %d in flight: %v", i+1, i, err)
		}
		open = append(open, at)
	}
	if _, err := th.begin("pat@example.org"); err == nil {
		t.Fatalf("attempt with %d in flight admitted, want it throttled", cfg.BackoffAfter)
	}
	for _, at := range open {
		at.end()
	}
	at, err := th.begin("pat@example.org")
	if err != nil {
		t.Fatalf("attempt after the others ended: %v", err)
	}
	at.succeed()
	at.end()
	if th.emails.len() != 0 {
		t.Fatalf("got %d email entries after success, want 0", th.emails.len())
	}
}
