package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// maxUserAgentLength bounds the User-Agent kept with a session.
const maxUserAgentLength = 200

// Reasons recorded with a revoked session.
const (
	revokeLogout         = "logout"
	revokeByOwner        = "revoked_by_owner"
	revokePassword       = "password_changed"
	revokeRoleChange     = "role_changed"
	revokeDisabled       = "account_disabled"
	revokeSecondFactor   = "second_factor_reset"
	revokeExpired        = "expired"
	revokeByServer       = "revoked_by_server"
	revokePasswordReset  = "password_reset"
	purgeInterval        = time.Minute
	maxTouchGranularity  = time.Minute
	touchGranularityPart = 10
)

// Session is a session as its owner sees it in GET /api/v1/auth/sessions.
type Session struct {
	ID           string    `json:"id"`
	CreatedAt    time.Time `json:"created_at"`
	LastSeen     time.Time `json:"last_seen_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	SecondFactor bool      `json:"second_factor"`
	Address      string    `json:"address,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	Current      bool      `json:"current"`
}

// NewSession is a freshly created session. Token is the bearer token; it
// is shown to the client once and never stored.
type NewSession struct {
	Token        string    `json:"token"`
	ID           string    `json:"id"`
	ExpiresAt    time.Time `json:"expires_at"`
	IdleTimeout  int       `json:"idle_timeout_seconds"`
	SecondFactor bool      `json:"second_factor"`
}

// LogValue keeps the token out of logs.
func (n NewSession) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", n.ID), slog.Bool("second_factor", n.SecondFactor))
}

// client is the origin of a request, its address and User-Agent, kept
// with sessions and audit events.
type client struct {
	Address   string
	UserAgent string
}

func truncateUserAgent(ua string) string {
	if len(ua) <= maxUserAgentLength {
		return ua
	}
	cut := maxUserAgentLength
	for cut > 0 && ua[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return ua[:cut]
}

// createSession starts a session for the account.
func (s *Service) createSession(ctx context.Context, a *store.Account, secondFactor bool, c client) (NewSession, error) {
	s.maybePurge(ctx)
	now := s.now()
	token, digest := newToken(prefixSession)
	rec := &store.Session{
		ID:           newID(),
		UserID:       a.ID,
		CreatedAt:    now,
		LastSeen:     now,
		ExpiresAt:    now.Add(s.cfg.SessionMax),
		SecondFactor: secondFactor,
		Address:      c.Address,
		UserAgent:    truncateUserAgent(c.UserAgent),
	}
	if err := s.db.CreateSession(digest, rec); err != nil {
		return NewSession{}, fmt.Errorf("create session: %w", err)
	}
	s.record(ctx, audit.Event{
		Type: "auth.session.create", ActorID: a.ID, TargetID: rec.ID, Address: c.Address,
		Outcome: audit.OutcomeSuccess,
		Detail:  map[string]string{"second_factor": fmt.Sprint(secondFactor)},
	})
	return NewSession{
		Token:        token,
		ID:           rec.ID,
		ExpiresAt:    rec.ExpiresAt,
		IdleTimeout:  int(s.cfg.SessionIdle / time.Second),
		SecondFactor: secondFactor,
	}, nil
}

// expired reports whether a session has passed its idle or absolute
// limit at now.
func (s *Service) expired(rec *store.Session, now time.Time) bool {
	return !now.Before(rec.ExpiresAt) || now.Sub(rec.LastSeen) >= s.cfg.SessionIdle
}

// Authenticate checks a bearer token and returns the Actor it stands for.
// It refreshes the session's idle timer, at most once a minute (or a tenth
// of SessionIdle when that is shorter). It fails with ErrSessionInvalid for
// a malformed, unknown, expired or revoked token and for an account that
// is no longer active. It is safe for concurrent use.
func (s *Service) Authenticate(ctx context.Context, token string) (policy.Actor, error) {
	digest, ok := parseToken(prefixSession, token)
	if !ok {
		return policy.Actor{}, ErrSessionInvalid
	}
	rec, err := s.db.SessionByTokenHash(digest)
	if errors.Is(err, store.ErrNotFound) {
		return policy.Actor{}, ErrSessionInvalid
	}
	if err != nil {
		return policy.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	if s.expired(rec, now) {
		s.revokeSession(ctx, rec.UserID, rec.ID, revokeExpired, "")
		return policy.Actor{}, ErrSessionInvalid
	}
	a, err := s.db.Account(rec.UserID)
	if err != nil {
		return policy.Actor{}, fmt.Errorf("%w: %w", ErrSessionInvalid, err)
	}
	if st := Status(a.Status); st != StatusActive && st != StatusLocked {
		return policy.Actor{}, ErrSessionInvalid
	}
	if now.Sub(rec.LastSeen) >= s.touchEvery {
		if _, err := s.db.UpdateSession(digest, func(r *store.Session) error {
			r.LastSeen = now
			return nil
		}); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("refresh session idle timer failed", "session", rec.ID, "err", err)
		}
	}
	return policy.Actor{
		UserID:       a.ID,
		Role:         policy.Role(a.Role),
		SessionID:    rec.ID,
		SecondFactor: rec.SecondFactor,
	}, nil
}

// Sessions returns the live sessions of the user, marking currentID.
func (s *Service) Sessions(ctx context.Context, userID, currentID string) ([]Session, error) {
	list, err := s.db.UserSessions(userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	now := s.now()
	out := make([]Session, 0, len(list))
	for _, r := range list {
		if s.expired(r, now) {
			continue
		}
		out = append(out, Session{
			ID: r.ID, CreatedAt: r.CreatedAt, LastSeen: r.LastSeen, ExpiresAt: r.ExpiresAt,
			SecondFactor: r.SecondFactor, Address: r.Address, UserAgent: r.UserAgent,
			Current: r.ID == currentID,
		})
	}
	return out, nil
}

// RevokeSession ends one session of the user. It returns ErrNotFound when
// the user has no session with that id, so nobody can end another user's
// session.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	if !validID(sessionID) {
		return ErrNotFound
	}
	if !s.revokeSession(ctx, userID, sessionID, revokeByOwner, userID) {
		return ErrNotFound
	}
	return nil
}

// RevokeUser ends every session of the user, for example when another
// package learns that the account must stop acting at once.
func (s *Service) RevokeUser(ctx context.Context, userID string) error {
	return s.revokeUserSessions(ctx, userID, "", revokeByServer, "")
}

// OnRevoke registers fn to be called after a session ends by revocation,
// logout or expiry, with the session and user ids. fn runs on the
// revoking goroutine and must not block. Register hooks before serving.
func (s *Service) OnRevoke(fn func(sessionID, userID string)) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.hooks = append(s.hooks, fn)
}

func (s *Service) notifyRevoked(sessionID, userID string) {
	s.hooksMu.Lock()
	hooks := s.hooks
	s.hooksMu.Unlock()
	for _, fn := range hooks {
		fn(sessionID, userID)
	}
}

func (s *Service) revokeSession(ctx context.Context, userID, sessionID, reason, actorID string) bool {
	rec, err := s.db.DeleteSession(userID, sessionID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("revoke session failed", "session", sessionID, "err", err)
		}
		return false
	}
	s.afterRevoke(ctx, []*store.Session{rec}, reason, actorID)
	return true
}

// revokeUserSessions ends every session of the user except keep.
func (s *Service) revokeUserSessions(ctx context.Context, userID, keep, reason, actorID string) error {
	list, err := s.db.DeleteUserSessions(userID, keep)
	if err != nil {
		return fmt.Errorf("revoke sessions of %s: %w", userID, err)
	}
	s.afterRevoke(ctx, list, reason, actorID)
	return nil
}

func (s *Service) afterRevoke(ctx context.Context, list []*store.Session, reason, actorID string) {
	for _, rec := range list {
		s.record(ctx, audit.Event{
			Type: "auth.session.revoke", ActorID: actorID, TargetID: rec.ID,
			Outcome: audit.OutcomeSuccess,
			Detail:  map[string]string{"reason": reason, "user": rec.UserID},
		})
		s.notifyRevoked(rec.ID, rec.UserID)
	}
}

// maybePurge deletes expired sessions, challenges, invitations and resets
// at most once per purgeInterval. It runs on the request that creates a
// session, so no background goroutine is needed.
func (s *Service) maybePurge(ctx context.Context) {
	now := s.now()
	last := s.lastPurge.Load()
	if now.UnixNano()-last < int64(purgeInterval) || !s.lastPurge.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if err := s.Purge(ctx); err != nil {
		s.log.Error("purge expired records failed", "err", err)
	}
}

// Purge deletes expired sessions, sign-in challenges, invitations and
// password resets, and calls the OnRevoke hooks for the sessions. Invited
// accounts whose invitation expired stay, so an administrator can invite
// them again.
func (s *Service) Purge(ctx context.Context) error {
	now := s.now()
	list, err := s.db.DeleteSessionsWhere(func(r *store.Session) bool { return s.expired(r, now) })
	if err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	s.afterRevoke(ctx, list, revokeExpired, "")
	if _, err := s.db.DeleteChallengesBefore(now); err != nil {
		return fmt.Errorf("purge challenges: %w", err)
	}
	if _, err := s.db.DeleteGrantsBefore(now); err != nil {
		return fmt.Errorf("purge invitations and resets: %w", err)
	}
	return nil
}
