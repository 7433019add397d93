package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// maxPasswordBytes bounds the password a sign-in hashes: MaxPasswordLength
// code points of up to four bytes each. Longer input fails without being
// hashed.
const maxPasswordBytes = 4 * MaxPasswordLength

// loginResult is the outcome of the password step. Exactly one of
// Session and Challenge is set.
type loginResult struct {
	Session            *NewSession
	Account            Account
	Challenge          string
	ChallengeExpiresAt time.Time
}

// login checks an email and password. An account with a confirmed second
// factor gets a challenge for the second step. Any other account gets a
// session, which for staff only allows enrolling a second factor.
//
// Unknown addresses, invited accounts and wrong passwords all fail with
// ErrInvalidCredentials after exactly one argon2id computation.
func (s *Service) login(ctx context.Context, email, password string, c client) (loginResult, error) {
	if err := s.throttle.allowAddress(c.Address); err != nil {
		return loginResult{}, err
	}
	norm, err := NormalizeEmail(email)
	if err != nil || len(password) > maxPasswordBytes {
		s.throttle.failAddress(c.Address)
		s.recordLogin(ctx, "", c, audit.OutcomeFailure, "malformed_request")
		return loginResult{}, ErrInvalidCredentials
	}
	at, err := s.throttle.begin(norm)
	if err != nil {
		s.recordLogin(ctx, "", c, audit.OutcomeDenied, "throttled")
		return loginResult{}, err
	}
	defer at.end()

	a, err := s.db.AccountByEmail(norm)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return loginResult{}, s.failUnknown(ctx, at, password, c)
	case err != nil:
		return loginResult{}, fmt.Errorf("login: %w", err)
	case a.PasswordHash == "":
		return loginResult{}, s.failUnknown(ctx, at, password, c)
	}
	ok, stale, err := s.hasher.verify(ctx, password, a.PasswordHash)
	if err != nil {
		return loginResult{}, fmt.Errorf("login: account %s: %w", a.ID, err)
	}
	if !ok {
		return loginResult{}, s.failAttempt(ctx, at, a, c, "wrong_password")
	}
	if err := s.checkUsable(ctx, a, c); err != nil {
		return loginResult{}, err
	}
	a, err = s.passwordAccepted(ctx, a, password, stale)
	if err != nil {
		return loginResult{}, err
	}

	if len(a.TOTPSeed) > 0 {
		// The failures for the email stay counted until the second factor
		// succeeds. Clearing them here would let someone who knows the
		// password guess codes over many challenges and never reach the
		// lock.
		return s.startChallenge(ctx, a, c)
	}
	at.succeed()
	sess, err := s.createSession(ctx, a, false, c)
	if err != nil {
		return loginResult{}, err
	}
	s.recordLogin(ctx, a.ID, c, audit.OutcomeSuccess, "password")
	return loginResult{Session: &sess, Account: accountView(a)}, nil
}

// failUnknown spends the same argon2id work as a real check, then fails
// like a wrong password.
func (s *Service) failUnknown(ctx context.Context, at *attempt, password string, c client) error {
	if _, _, err := s.hasher.verify(ctx, password, s.dummyHash); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	at.fail(c.Address)
	s.recordLogin(ctx, "", c, audit.OutcomeFailure, "unknown_account")
	return ErrInvalidCredentials
}

// failAttempt records a failed password or second-factor attempt on a
// known account and locks the account when it reaches LockoutAfter
// consecutive failures. It returns ErrInvalidCredentials.
//
// Failures below the lockout threshold are counted in memory only, so a
// wrong password costs no database write and takes as long as an unknown
// email address.
func (s *Service) failAttempt(ctx context.Context, at *attempt, a *store.Account, c client, reason string) error {
	count := at.fail(c.Address)
	s.recordLogin(ctx, a.ID, c, audit.OutcomeFailure, reason)
	if count < s.cfg.LockoutAfter {
		return ErrInvalidCredentials
	}
	// NOTE: the lock write makes the attempt that reaches the threshold
	// slower for a known account than for an unknown address.
	now := s.now()
	lockNow := false
	_, err := s.db.UpdateAccount(a.ID, func(acct *store.Account) error {
		acct.FailedLogins = count
		if acct.Status == string(StatusActive) {
			acct.Status = string(StatusLocked)
			acct.LockedUntil = now.Add(s.cfg.LockoutDuration)
			acct.UpdatedAt = now
			lockNow = true
		}
		return nil
	})
	if err != nil {
		s.log.Error("lock account after failed sign-ins failed", "account", a.ID, "err", err)
	}
	if lockNow {
		s.record(ctx, audit.Event{
			Type: "auth.lockout", TargetID: a.ID, Address: c.Address, Outcome: audit.OutcomeSuccess,
			Detail: map[string]string{
				"failures": strconv.Itoa(count),
				"until":    now.Add(s.cfg.LockoutDuration).UTC().Format(time.RFC3339),
			},
		})
		s.log.Warn("account locked after failed sign-ins", "account", a.ID, "failures", count)
	}
	return ErrInvalidCredentials
}

// checkUsable rejects disabled accounts and accounts whose lock has not
// run out. It is called only after the password was verified, so its
// errors reveal nothing to someone without the password.
func (s *Service) checkUsable(ctx context.Context, a *store.Account, c client) error {
	switch Status(a.Status) {
	case StatusActive:
		return nil
	case StatusDisabled:
		s.recordLogin(ctx, a.ID, c, audit.OutcomeDenied, "account_disabled")
		return ErrAccountDisabled
	case StatusLocked:
		now := s.now()
		if now.Before(a.LockedUntil) {
			s.recordLogin(ctx, a.ID, c, audit.OutcomeDenied, "account_locked")
			return &ThrottledError{RetryAfter: a.LockedUntil.Sub(now), Locked: true}
		}
		return nil // the lock ran out; passwordAccepted clears it
	}
	s.recordLogin(ctx, a.ID, c, audit.OutcomeDenied, "account_"+a.Status)
	return ErrInvalidCredentials
}

// passwordAccepted clears the stored failure count and an expired lock,
// and rehashes the password when its parameters are not the current ones.
func (s *Service) passwordAccepted(ctx context.Context, a *store.Account, password string, stale bool) (*store.Account, error) {
	var rehash string
	if stale {
		h, err := s.hasher.hash(ctx, password)
		if err != nil {
			s.log.Warn("rehash password failed; keeping the old hash", "account", a.ID, "err", err)
		}
		rehash = h
	}
	if a.FailedLogins == 0 && Status(a.Status) == StatusActive && rehash == "" {
		return a, nil
	}
	now := s.now()
	return s.db.UpdateAccount(a.ID, func(acct *store.Account) error {
		acct.FailedLogins = 0
		if Status(acct.Status) == StatusLocked && !now.Before(acct.LockedUntil) {
			acct.Status = string(StatusActive)
			acct.LockedUntil = time.Time{}
		}
		if rehash != "" && acct.PasswordHash == a.PasswordHash {
			acct.PasswordHash = rehash
		}
		acct.UpdatedAt = now
		return nil
	})
}

// startChallenge stores a single-use second-factor challenge for a.
func (s *Service) startChallenge(ctx context.Context, a *store.Account, c client) (loginResult, error) {
	token, digest := newToken(prefixChallenge)
	expires := s.now().Add(s.cfg.ChallengeTTL)
	err := s.db.PutChallenge(digest, &store.Challenge{
		UserID: a.ID, ExpiresAt: expires, Address: c.Address, UserAgent: truncateUserAgent(c.UserAgent),
	})
	if err != nil {
		return loginResult{}, fmt.Errorf("store challenge: %w", err)
	}
	s.recordLogin(ctx, a.ID, c, audit.OutcomeSuccess, "password_second_factor_pending")
	return loginResult{Account: accountView(a), Challenge: token, ChallengeExpiresAt: expires}, nil
}

// loginSecondFactor completes a sign-in with the challenge from the
// password step and a TOTP or recovery code. A wrong code counts as a
// failed sign-in; the challenge survives ChallengeAttempts-1 wrong codes.
func (s *Service) loginSecondFactor(ctx context.Context, challenge, code string, c client) (loginResult, error) {
	if err := s.throttle.allowAddress(c.Address); err != nil {
		return loginResult{}, err
	}
	digest, ok := parseToken(prefixChallenge, challenge)
	if !ok {
		s.throttle.failAddress(c.Address)
		return loginResult{}, ErrTokenInvalid
	}
	ch, err := s.db.TakeChallenge(digest)
	if errors.Is(err, store.ErrNotFound) {
		s.throttle.failAddress(c.Address)
		return loginResult{}, ErrTokenInvalid
	}
	if err != nil {
		return loginResult{}, fmt.Errorf("second factor: %w", err)
	}
	if !s.now().Before(ch.ExpiresAt) {
		return loginResult{}, ErrTokenInvalid
	}
	a, err := s.db.Account(ch.UserID)
	if err != nil {
		return loginResult{}, fmt.Errorf("second factor: %w", err)
	}
	at, err := s.throttle.begin(a.Email)
	if err != nil {
		return loginResult{}, err
	}
	defer at.end()
	if err := s.checkUsable(ctx, a, c); err != nil {
		return loginResult{}, err
	}

	updated, method, err := s.useSecondFactor(a.ID, code)
	if errors.Is(err, ErrCodeInvalid) {
		return loginResult{}, s.failSecondFactor(ctx, at, a, ch, digest, c)
	}
	if err != nil {
		return loginResult{}, err
	}
	a = updated
	at.succeed()
	sess, err := s.createSession(ctx, a, true, c)
	if err != nil {
		return loginResult{}, err
	}
	s.recordLogin(ctx, a.ID, c, audit.OutcomeSuccess, method)
	return loginResult{Session: &sess, Account: accountView(a)}, nil
}

// failSecondFactor records a wrong code and puts the challenge back while
// it has attempts left.
func (s *Service) failSecondFactor(ctx context.Context, at *attempt, a *store.Account, ch *store.Challenge,
	digest []byte, c client,
) error {
	s.record(ctx, audit.Event{
		Type: "auth.second_factor", ActorID: a.ID, Address: c.Address, Outcome: audit.OutcomeFailure,
		Detail: map[string]string{"reason": "invalid_code"},
	})
	ch.Attempts++
	if ch.Attempts < s.cfg.ChallengeAttempts {
		if err := s.db.PutChallenge(digest, ch); err != nil {
			s.log.Error("restore sign-in challenge failed", "account", a.ID, "err", err)
		}
	}
	if err := s.failAttempt(ctx, at, a, c, "wrong_second_factor"); err != nil && !errors.Is(err, ErrInvalidCredentials) {
		return err
	}
	return ErrCodeInvalid
}

func (s *Service) recordLogin(ctx context.Context, userID string, c client, outcome audit.Outcome, detail string) {
	key := "reason"
	if outcome == audit.OutcomeSuccess {
		key = "method"
	}
	s.record(ctx, audit.Event{
		Type: "auth.login", ActorID: userID, Address: c.Address, Outcome: outcome,
		Detail: map[string]string{key: detail},
	})
}

// SecondFactorSatisfied reports whether a may reach health data as far as
// authentication goes: patients always, staff only through a session
// established or confirmed with a second factor. Policy checks still
// decide what a may see.
func SecondFactorSatisfied(a policy.Actor) bool {
	return !a.Anonymous() && (!a.Role.IsStaff() || a.SecondFactor)
}
