package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

// Buffer sizes of each connection. An idle connection holds only the read
// buffer; write buffers come from a pool while a message is being written.
const (
	readBufferSize  = 512
	writeBufferSize = 4096
)

// Hub is the WebSocket signaling hub. It serves /ws as an http.Handler and
// pushes notifications to connected users. All methods are safe for
// concurrent use.
type Hub struct {
	cfg      Config
	log      *slog.Logger
	audit    audit.Recorder
	metrics  *metrics
	upgrader websocket.Upgrader
	origins  map[string]bool // canonical allowed origins; empty: same origin as Host

	ctx     context.Context // parent of calls to Authenticator and Rooms
	cancel  context.CancelFunc
	closing atomic.Bool // set by Shutdown
	// clientLogs limits the log lines that clients can cause (rejected
	// origins and tokens, invalid messages, slow consumers). Metrics count
	// every event; the log shows a sample.
	clientLogs *rate.Limiter
	wg         sync.WaitGroup // connection goroutines and grace timers

	mu        sync.Mutex
	conns     map[*conn]struct{} // every open connection
	byUser    map[string][]*conn // authenticated connections; slices are small
	bySession map[string][]*conn
	admins    map[*conn]struct{}
	rooms     map[string]*room
	// revoked records when sessions and users were revoked, so that a
	// connection whose authentication was in flight during the revocation is
	// closed as well. Entries expire after revokedRetention.
	revokedSessions map[string]time.Time
	revokedUsers    map[string]time.Time
	// completions are the pending completions of consultations whose room
	// emptied while they were in progress, and ended records when hosts
	// ended consultations, by consultation id.
	completions map[string]*pendingCompletion
	ended       map[string]time.Time
}

// New returns a Hub for cfg, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*Hub, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register signaling metrics: %w", err)
	}
	h := &Hub{
		cfg:             cfg,
		log:             cfg.Logger,
		audit:           cfg.Audit,
		metrics:         m,
		origins:         make(map[string]bool),
		conns:           make(map[*conn]struct{}),
		byUser:          make(map[string][]*conn),
		bySession:       make(map[string][]*conn),
		admins:          make(map[*conn]struct{}),
		rooms:           make(map[string]*room),
		revokedSessions: make(map[string]time.Time),
		revokedUsers:    make(map[string]time.Time),
		completions:     make(map[string]*pendingCompletion),
		ended:           make(map[string]time.Time),
		clientLogs:      rate.NewLimiter(5, 20),
	}
	for _, o := range cfg.AllowedOrigins {
		canonical, _ := parseOrigin(o) // validated by withDefaults
		h.origins[canonical] = true
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   readBufferSize,
		WriteBufferSize:  writeBufferSize,
		WriteBufferPool:  &sync.Pool{},
		Subprotocols:     []string{Subprotocol},
		// ServeHTTP checks the origin before calling Upgrade, with a
		// clearer response than the library's.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// ServeHTTP upgrades a request to a WebSocket connection. It rejects a
// request with a query string (tokens never travel in URLs), an Origin not
// allowed by Config.AllowedOrigins and a request that does not offer
// Subprotocol.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.RawQuery != "":
		http.Error(w, "query parameters are not accepted: send the session token in the first message",
			http.StatusBadRequest)
		return
	case !h.originAllowed(r):
		h.logClient(h.log, slog.LevelWarn, "websocket origin rejected", "remote", clientAddress(r))
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	case !offersSubprotocol(r):
		http.Error(w, "missing or unsupported WebSocket subprotocol: offer "+Subprotocol,
			http.StatusBadRequest)
		return
	case h.closing.Load():
		http.Error(w, "server is shutting down: reconnect later", http.StatusServiceUnavailable)
		return
	}

	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has written the HTTP error response.
		h.log.Debug("websocket upgrade failed", "remote", clientAddress(r), "err", err)
		return
	}
	c := newConn(h, ws, clientAddress(r))
	if !h.addConn(c) {
		ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(CloseGoingAway, "server shutting down"),
			time.Now().Add(h.cfg.WriteTimeout))
		ws.Close()
		return
	}
	c.run()
}

func (h *Hub) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	canonical, err := parseOrigin(origin)
	if err != nil {
		return false
	}
	// The server's own origin is always allowed; the list adds others.
	if h.origins[canonical] {
		return true
	}
	_, host, _ := strings.Cut(canonical, "://")
	return strings.EqualFold(host, r.Host)
}

func offersSubprotocol(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		if p == Subprotocol {
			return true
		}
	}
	return false
}

// clientAddress returns the peer IP without port. It does not trust
// forwarding headers.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// addConn registers a new connection and accounts for its reader, unless
// the hub is shutting down. Writer goroutines add themselves.
func (h *Hub) addConn(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing.Load() {
		return false
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	h.metrics.connections.Inc()
	return true
}

// revokedRetention bounds how long a revocation is remembered for
// connections that were authenticating while it happened. It must exceed
// the longest authentication, which Config.AuthTimeout bounds.
func (h *Hub) revokedRetention() time.Duration { return 2*h.cfg.AuthTimeout + time.Minute }

// Reasons addActor rejects an authenticated connection.
var (
	errRevokedDuringAuth  = errors.New("session revoked during authentication")
	errTooManyConnections = errors.New("too many connections of the user")
)

// addActor indexes an authenticated connection by user and session. It
// fails when the session or user was revoked after authStart, or when the
// user already has MaxUserConnections connections.
func (h *Hub) addActor(c *conn, authStart time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := c.actor
	if t, ok := h.revokedSessions[a.SessionID]; ok && !t.Before(authStart) {
		return errRevokedDuringAuth
	}
	if t, ok := h.revokedUsers[a.UserID]; ok && !t.Before(authStart) {
		return errRevokedDuringAuth
	}
	if len(h.byUser[a.UserID]) >= h.cfg.MaxUserConnections {
		return errTooManyConnections
	}
	h.byUser[a.UserID] = append(h.byUser[a.UserID], c)
	h.bySession[a.SessionID] = append(h.bySession[a.SessionID], c)
	if a.Role == policy.RoleAdmin {
		h.admins[c] = struct{}{}
	}
	return nil
}

func (h *Hub) removeConn(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	removeFromIndex(h.byUser, c.actor.UserID, c)
	removeFromIndex(h.bySession, c.actor.SessionID, c)
	delete(h.admins, c)
	h.metrics.connections.Dec()
}

// removeFromIndex deletes c from the slice at key, and the key when the
// slice becomes empty.
func removeFromIndex(index map[string][]*conn, key string, c *conn) {
	conns := slices.DeleteFunc(index[key], func(x *conn) bool { return x == c })
	if len(conns) == 0 {
		delete(index, key)
		return
	}
	index[key] = conns
}

// NotifyMessage pushes the ids of a new message to every online device of
// userIDs. It never blocks on a connection.
func (h *Hub) NotifyMessage(userIDs []string, conversationID, messageID string) {
	m := &outbound{typ: TypeMessage, data: encode(h.log, NewMessageNotification{
		Header:       Header{Type: TypeMessage},
		Conversation: conversationID,
		Message:      messageID,
	})}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range userIDs {
		for _, c := range h.byUser[u] {
			c.send(m)
		}
	}
}

// NotifyAdmins pushes a to every connection of an administrator. It never
// blocks on a connection.
func (h *Hub) NotifyAdmins(a Alert) {
	m := &outbound{typ: TypeAlert, data: encode(h.log, AlertMessage{Header: Header{Type: TypeAlert}, Alert: a})}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.admins {
		c.send(m)
	}
}

// RevokeSession closes every connection of the session with
// ClosePolicyViolation after a session-revoked message. A participant of a
// revoked session leaves its consultation at once, without a grace period,
// also when its connection had already dropped.
func (h *Hub) RevokeSession(sessionID string) {
	h.mu.Lock()
	now := time.Now()
	h.pruneRevokedLocked(now)
	h.revokedSessions[sessionID] = now
	for _, c := range h.bySession[sessionID] {
		c.revoke()
	}
	h.mu.Unlock()
	h.dropRevoked(func(p *participant) bool { return p.sessionID == sessionID })
}

// RevokeUser closes every connection of the user as RevokeSession does.
func (h *Hub) RevokeUser(userID string) {
	h.mu.Lock()
	now := time.Now()
	h.pruneRevokedLocked(now)
	h.revokedUsers[userID] = now
	for _, c := range h.byUser[userID] {
		c.revoke()
	}
	h.mu.Unlock()
	h.dropRevoked(func(p *participant) bool { return p.userID == userID })
}

func (h *Hub) pruneRevokedLocked(now time.Time) {
	cutoff := now.Add(-h.revokedRetention())
	for _, m := range []map[string]time.Time{h.revokedSessions, h.revokedUsers} {
		for k, t := range m {
			if t.Before(cutoff) {
				delete(m, k)
			}
		}
	}
}

// Shutdown closes every connection with CloseGoingAway, ends every
// reconnect grace period, cancels pending completions and waits until all connection goroutines have
// returned or ctx is done. Consultation statuses are not changed: the
// consultations resume when the server is back. After Shutdown, ServeHTTP
// responds with 503.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.closing.Store(true)

	h.mu.Lock()
	for c := range h.conns {
		c.closeWith(CloseGoingAway, "server shutting down")
	}
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	for id := range h.completions {
		h.cancelCompletionLocked(id)
	}
	h.mu.Unlock()

	for _, r := range rooms {
		h.expireAll(r)
	}

	// When ctx ends first, this goroutine stays until the last connection
	// goroutine returns. Reads end within CloseTimeout of the close frame,
	// but a call into Rooms or Media in progress is waited for.
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		h.cancel()
		return nil
	case <-ctx.Done():
		h.cancel()
		return fmt.Errorf("shut down signaling hub: %w", ctx.Err())
	}
}

// encode returns the JSON encoding of a server message. The message types
// hold only strings, numbers, slices and structs, so an error is a bug; it
// is logged and the message is dropped.
func encode(log *slog.Logger, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		log.Error("encode signaling message", "err", err)
		return nil
	}
	return b
}

// logClient logs a line that a client's behaviour caused, unless such lines
// exceed their rate limit.
func (h *Hub) logClient(log *slog.Logger, level slog.Level, msg string, args ...any) {
	if h.clientLogs.Allow() {
		log.Log(context.Background(), level, msg, args...)
	}
}

func (h *Hub) record(ctx context.Context, e audit.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	h.audit.Record(ctx, e)
}
