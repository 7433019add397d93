package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// fastParams keep argon2id cheap in tests; the benchmark uses the defaults.
var fastParams = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLength: 16, KeyLength: 32}

// clock is a settable time source for Deps.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recorder keeps audit events for inspection.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Record(_ context.Context, e audit.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) count(typ string, outcome audit.Outcome) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ && e.Outcome == outcome {
			n++
		}
	}
	return n
}

func (r *recorder) all() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// env is a Service over a real store in a temporary directory, served by
// an httptest server on loopback.
type env struct {
	t     *testing.T
	svc   *Service
	db    *store.DB
	dir   string
	clock *clock
	audit *recorder
	logs  *lockedBuffer
	srv   *httptest.Server
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a
// slog handler.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Password = fastParams
	cfg.MaxConcurrentHashes = 4
	cfg.AddressRate = 1000
	cfg.AddressBurst = 1000
	return cfg
}

func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := store.LoadOrCreateKey(filepath.Join(dir, store.KeyFileName))
	if err != nil {
		t.Fatalf("server key: %v", err)
	}
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := New(cfg, Deps{DB: db, Sealer: store.NewSealer(key), Audit: rec, Logger: logger, Now: clk.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	rt := api.NewRouter(nil)
	svc.Register(rt)
	// A route standing for the rest of the API, which needs full
	// authentication.
	rt.HandleFunc("GET /api/v1/test/protected", func(w http.ResponseWriter, r *http.Request) {
		a, err := RequireActor(r)
		if err != nil {
			api.WriteError(w, r, nil, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"user": a.UserID})
	})
	srv := httptest.NewServer(svc.Middleware(rt))
	t.Cleanup(srv.Close)
	return &env{t: t, svc: svc, db: db, dir: dir, clock: clk, audit: rec, logs: logs, srv: srv}
}

// response is a decoded HTTP response.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

func (e *env) want(r response, status int, code string) {
	e.t.Helper()
	if r.status != status || r.errorCode() != code {
		e.t.Fatalf("got status %d code %q, want %d %q; body %s", r.status, r.errorCode(), status, code, r.raw)
	}
}

// user creates an active account with the given role and password
// through an invitation.
func (e *env) user(email string, role policy.Role, password string) Account {
	e.t.Helper()
	inv, err := e.svc.CreateUser(context.Background(), email, role, "Test User")
	if err != nil {
		e.t.Fatalf("CreateUser %s: %v", email, err)
	}
	acct, err := e.svc.acceptInvitation(context.Background(), inv.Token, password, "", client{Address: "127.0.0.1"})
	if err != nil {
		e.t.Fatalf("accept invitation %s: %v", email, err)
	}
	return acct
}

// login signs in with a password only and returns the session token.
func (e *env) login(email, password string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if r.status != http.StatusOK {
		e.t.Fatalf("login %s: got status %d, want 200; body %s", email, r.status, r.raw)
	}
	sess, _ := r.body["session"].(map[string]any)
	token, _ := sess["token"].(string)
	if token == "" {
		e.t.Fatalf("login %s: no session token in %s", email, r.raw)
	}
	return token
}

const (
	patientPassword = "correct horse battery"
	staffPassword   = "violet lantern harbour"
)

// admin creates an administrator with a confirmed second factor and
// returns a session token verified by it.
func (e *env) admin() string {
	e.t.Helper()
	e.user("admin@example.org", policy.RoleAdmin, staffPassword)
	token := e.login("admin@example.org", staffPassword)
	e.enroll(token)
	return token
}

func mustStored(t *testing.T, e *env, id string) *store.Account {
	t.Helper()
	a, err := e.db.Account(id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
