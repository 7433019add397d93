package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
)

// testClinic is a running server with real accounts signed in through its
// own API, for the access matrix and the invariant tests. Password hashing
// is cheap, commits skip fsync and the per-address sign-in limit is off,
// because the tests sign in hundreds of accounts from one address.
type testClinic struct {
	srv  *Server
	addr string
	// stop stops and closes the server before the test ends.
	stop func()

	mu       sync.Mutex
	tokens   map[sessionKey]string
	accounts map[string]account
}

// sessionKey names the session a test actor uses: staff actors hold one
// session with and one without a second factor.
type sessionKey struct {
	user         string
	secondFactor bool
}

// account is an account created by a test, with its secrets.
type account struct {
	ID       string
	Email    string
	Role     policy.Role
	Password string
	// TOTPSecret is set once the account has enrolled a second factor.
	TOTPSecret    string
	RecoveryCodes []string
	// Codes are the TOTP codes the tests sent for the account.
	Codes []string
	// SpareSession is the id of a session the tests do not use, for
	// revoking one of the account's own sessions.
	SpareSession string
}

func cheapConfig(cfg *Config) {
	cfg.Auth.Password.Memory = 64
	cfg.Auth.Password.Time = 1
	cfg.Auth.AddressRate = math.MaxFloat64
	cfg.Auth.AddressBurst = math.MaxInt32
}

func newTestClinic(t *testing.T, change func(*Config)) *testClinic {
	t.Helper()
	return newLoggedTestClinic(t, change, nil)
}

// newLoggedTestClinic is newTestClinic with the server's logger.
func newLoggedTestClinic(t *testing.T, change func(*Config), log *slog.Logger) *testClinic {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Media = loopbackMedia()
	cheapConfig(&cfg)
	if change != nil {
		change(&cfg)
	}
	srv, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Durability is not under test here, and an fsync per commit would
	// make the thousands of commits of a matrix run slow.
	srv.DB().Bolt().NoSync = true
	tc := &testClinic{srv: srv, tokens: map[sessionKey]string{}, accounts: map[string]account{}}
	tc.addr, tc.stop = serve(t, srv)
	return tc
}

// serve runs srv on its loopback address and returns the bound address
// and a function that stops the server and closes it. The function runs
// when the test ends unless the test calls it first.
func serve(t *testing.T, srv *Server) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start within 10s")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("server did not stop within 15s")
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return addr.String(), stop
}

// apiResult is the status and body of one in-process request.
type apiResult struct {
	Status int
	Body   []byte
}

// rawBody is a request body sent as it is rather than as JSON.
type rawBody []byte

// call sends one request to the server's handler in process, as a client
// on loopback would, with token as the bearer token when not empty.
func (tc *testClinic) call(t *testing.T, token, method, path string, body any) apiResult {
	t.Helper()
	return tc.callWith(t, token, method, path, body, nil)
}

// callWith is call with extra headers. A rawBody is sent as it is; any
// other body that is not nil is sent as JSON.
func (tc *testClinic) callWith(t *testing.T, token, method, path string, body any, header http.Header) apiResult {
	t.Helper()
	var rd io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body of %s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequestWithContext(context.Background(), method, path, rd)
	req.RemoteAddr = "127.0.0.1:1"
	if _, raw := body.(rawBody); body != nil && !raw {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	tc.srv.handler.ServeHTTP(rec, req)
	return apiResult{Status: rec.Code, Body: rec.Body.Bytes()}
}

// mustCall is call that fails the test unless the response is 2xx, and
// decodes the response into out when out is not nil.
func (tc *testClinic) mustCall(t *testing.T, token, method, path string, body, out any) {
	t.Helper()
	tc.mustCallWith(t, token, method, path, body, nil, out)
}

// mustCallWith is mustCall with extra headers.
func (tc *testClinic) mustCallWith(t *testing.T, token, method, path string, body any, header http.Header, out any) {
	t.Helper()
	res := tc.callWith(t, token, method, path, body, header)
	if res.Status/100 != 2 {
		t.Fatalf("%s %s: got %d %s, want 2xx", method, path, res.Status, bytes.TrimSpace(res.Body))
	}
	if out != nil {
		if err := json.Unmarshal(res.Body, out); err != nil {
			t.Fatalf("decode answer of %s %s: %v", method, path, err)
		}
	}
}

// createAccount creates an account of role through the operator path and
// sets its password through the invitation, as a new user would.
func (tc *testClinic) createAccount(t *testing.T, role policy.Role) account {
	t.Helper()
	a := tc.inviteAccount(t, role)
	a.Password = randomPassword()
	tc.mustCall(t, "", "POST", "/api/v1/invitations/accept", map[string]string{
		"token": a.invitation, "password": a.Password, "display_name": "Test " + string(role),
	}, nil)
	tc.setAccount(a.account)
	return a.account
}

// known reports whether actor is an account a test created, rather than
// an actor the matrix made up for an anonymous request.
func (tc *testClinic) known(actor policy.Actor) bool {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	_, ok := tc.accounts[actor.UserID]
	return ok
}

type invitedAccount struct {
	account
	invitation string
}

// inviteAccount creates an account of role that has not accepted its
// invitation: it exists with its role but cannot sign in.
func (tc *testClinic) inviteAccount(t *testing.T, role policy.Role) invitedAccount {
	t.Helper()
	email := newEmail()
	inv, err := createUser(context.Background(), tc.srv.services.auth, CreateUserRequest{
		Email: email, Role: string(role), DisplayName: "Test " + string(role),
	})
	if err != nil {
		t.Fatalf("create %s account: %v", role, err)
	}
	return invitedAccount{account: account{ID: inv.AccountID, Email: email, Role: role}, invitation: inv.Token}
}

// loginAnswer is the part of a sign-in response the tests read.
type loginAnswer struct {
	Challenge string `json:"challenge"`
	Session   struct {
		Token        string `json:"token"`
		ID           string `json:"id"`
		SecondFactor bool   `json:"second_factor"`
	} `json:"session"`
}

// passwordLogin runs the password step of a sign-in.
func (tc *testClinic) passwordLogin(t *testing.T, a account) loginAnswer {
	t.Helper()
	var ans loginAnswer
	tc.mustCall(t, "", "POST", "/api/v1/auth/login", map[string]string{
		"email": a.Email, "password": a.Password,
	}, &ans)
	return ans
}

// enrollTOTP enrolls and confirms a TOTP second factor through the session
// token, which then counts as signed in with a second factor. It uses the
// code of the current time step.
func (tc *testClinic) enrollTOTP(t *testing.T, a *account, token string) {
	t.Helper()
	var enr struct {
		Secret string `json:"secret"`
	}
	tc.mustCall(t, token, "POST", "/api/v1/me/totp", nil, &enr)
	code := totpCode(t, enr.Secret)
	a.Codes = append(a.Codes, code)
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	tc.mustCall(t, token, "POST", "/api/v1/me/totp/confirm", map[string]string{"code": code}, &confirmed)
	a.TOTPSecret, a.RecoveryCodes = enr.Secret, confirmed.RecoveryCodes
}

// newUser creates a signed-in account of role. A patient holds a session
// and a spare one, both without a second factor. Staff hold the same two,
// signed in before enrolling TOTP, and a third session that confirms the
// enrollment and so has the second factor. The actor uses the session its
// SecondFactor selects.
func (tc *testClinic) newUser(t *testing.T, role policy.Role) (account, policy.Actor) {
	t.Helper()
	a, actor := tc.newUnenrolledUser(t, role)
	if !role.IsStaff() {
		return a, actor
	}
	first := tc.passwordLogin(t, a)
	tc.enrollTOTP(t, &a, first.Session.Token)
	tc.setToken(a.ID, true, first.Session.Token)
	tc.setAccount(a)
	actor.SessionID, actor.SecondFactor = first.Session.ID, true
	return a, actor
}

// newUnenrolledUser creates a signed-in account of role without a second
// factor, holding one session and a spare one (Account.SpareSession).
func (tc *testClinic) newUnenrolledUser(t *testing.T, role policy.Role) (account, policy.Actor) {
	t.Helper()
	a := tc.createAccount(t, role)
	first := tc.passwordLogin(t, a)
	a.SpareSession = tc.passwordLogin(t, a).Session.ID
	tc.setToken(a.ID, false, first.Session.Token)
	tc.setAccount(a)
	return a, policy.Actor{UserID: a.ID, Role: role, SessionID: first.Session.ID}
}

// newActor is newUser for the matrix, which needs only the actor.
func (tc *testClinic) newActor(t *testing.T, role policy.Role) policy.Actor {
	_, actor := tc.newUser(t, role)
	return actor
}

func (tc *testClinic) setAccount(a account) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.accounts[a.ID] = a
}

// accountOf returns the account a test created with id.
func (tc *testClinic) accountOf(t *testing.T, id string) account {
	t.Helper()
	tc.mu.Lock()
	defer tc.mu.Unlock()
	a, ok := tc.accounts[id]
	if !ok {
		t.Fatalf("no test account %s", id)
	}
	return a
}

func (tc *testClinic) setToken(user string, secondFactor bool, token string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.tokens[sessionKey{user, secondFactor}] = token
}

// token returns the session token of actor, with or without the second
// factor as actor.SecondFactor selects.
func (tc *testClinic) token(t *testing.T, actor policy.Actor) string {
	t.Helper()
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tok, ok := tc.tokens[sessionKey{actor.UserID, actor.SecondFactor}]
	if !ok {
		t.Fatalf("no session of %s %s with second factor %v", actor.Role, actor.UserID, actor.SecondFactor)
	}
	return tok
}

// authenticate adds actor's bearer token to req.
func (tc *testClinic) authenticate(t *testing.T, req *http.Request, actor policy.Actor) {
	req.Header.Set("Authorization", "Bearer "+tc.token(t, actor))
}
