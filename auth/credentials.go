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

// PasswordReset is a new password-reset token. The administrator who
// issued it passes it to the account holder; only its digest is stored.
type PasswordReset struct {
	AccountID string    `json:"account_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LogValue keeps the token out of logs.
func (p PasswordReset) LogValue() slog.Value {
	return slog.GroupValue(slog.String("account", p.AccountID))
}

// changePassword replaces the actor's password after checking the current
// one, and ends every other session of the account.
func (s *Service) changePassword(ctx context.Context, actor policy.Actor, current, next string, c client) error {
	a, err := s.db.Account(actor.UserID)
	if err != nil {
		return mapStoreError(err)
	}
	if err := s.throttle.allowAddress(c.Address); err != nil {
		return err
	}
	at, err := s.throttle.begin(a.Email)
	if err != nil {
		return err
	}
	defer at.end()
	if len(current) > maxPasswordBytes {
		return ErrWrongPassword
	}
	ok, _, err := s.hasher.verify(ctx, current, a.PasswordHash)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if !ok {
		s.failAttempt(ctx, at, a, c, "wrong_current_password")
		return ErrWrongPassword
	}
	at.succeed()
	hash, err := s.newPasswordHash(ctx, next, a, a.DisplayName)
	if err != nil {
		return err
	}
	now := s.now()
	_, err = s.db.UpdateAccount(a.ID, func(acct *store.Account) error {
		acct.PasswordHash = hash
		acct.PasswordChangedAt = now
		acct.FailedLogins = 0
		acct.UpdatedAt = now
		return nil
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.record(ctx, audit.Event{
		Type: "auth.password.change", ActorID: a.ID, TargetID: a.ID, Address: c.Address,
		Outcome: audit.OutcomeSuccess,
	})
	return s.revokeUserSessions(ctx, a.ID, actor.SessionID, revokePassword, a.ID)
}

// IssuePasswordReset creates a single-use password-reset token for the
// account, valid for Config.ResetTTL, and retires any earlier one. The
// admin must have a second factor. There is no mail server: the admin
// passes the token on.
func (s *Service) IssuePasswordReset(ctx context.Context, admin policy.Actor, accountID string) (PasswordReset, error) {
	if err := checkAdmin(admin); err != nil {
		return PasswordReset{}, err
	}
	if !validID(accountID) {
		return PasswordReset{}, ErrNotFound
	}
	now := s.now()
	token, digest := newToken(prefixReset)
	grant := &store.Grant{
		AccountID: accountID, CreatedBy: admin.UserID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ResetTTL),
	}
	_, err := s.db.IssueReset(digest, grant, func(a *store.Account) error {
		if Status(a.Status) == StatusInvited {
			return fmt.Errorf("%w: the account has not accepted its invitation; invite it again",
				ErrInvalidState)
		}
		return nil
	})
	if err != nil {
		return PasswordReset{}, mapStoreError(err)
	}
	s.recordAdmin(ctx, admin, accountID, "password_reset_issued", nil)
	return PasswordReset{AccountID: accountID, Token: token, ExpiresAt: grant.ExpiresAt}, nil
}

// consumeReset sets a new password with a reset token, unlocks the
// account and ends all its sessions. The token is used up only when
// everything succeeds.
func (s *Service) consumeReset(ctx context.Context, token, password string, c client) error {
	if err := s.throttle.allowAddress(c.Address); err != nil {
		return err
	}
	digest, ok := parseToken(prefixReset, token)
	if !ok {
		s.throttle.failAddress(c.Address)
		return ErrTokenInvalid
	}
	grant, err := s.db.Reset(digest)
	if err != nil || !s.now().Before(grant.ExpiresAt) {
		s.throttle.failAddress(c.Address)
		return ErrTokenInvalid
	}
	a, err := s.db.Account(grant.AccountID)
	if err != nil {
		return ErrTokenInvalid
	}
	hash, err := s.newPasswordHash(ctx, password, a, a.DisplayName)
	if err != nil {
		return err
	}
	now := s.now()
	a, err = s.db.RedeemReset(digest, func(g *store.Grant, acct *store.Account) error {
		if !now.Before(g.ExpiresAt) {
			return ErrTokenInvalid
		}
		acct.PasswordHash = hash
		acct.PasswordChangedAt = now
		acct.FailedLogins = 0
		if Status(acct.Status) == StatusLocked {
			acct.Status = string(StatusActive)
			acct.LockedUntil = time.Time{}
		}
		acct.UpdatedAt = now
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrTokenInvalid
	}
	if err != nil {
		return err
	}
	s.throttle.reset(a.Email)
	s.record(ctx, audit.Event{
		Type: "auth.password.reset", ActorID: a.ID, TargetID: a.ID, Address: c.Address,
		Outcome: audit.OutcomeSuccess,
	})
	return s.revokeUserSessions(ctx, a.ID, "", revokePasswordReset, a.ID)
}
