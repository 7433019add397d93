package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// checkAdmin requires an administrator session with a second factor.
func checkAdmin(a policy.Actor) error {
	switch {
	case a.Anonymous():
		return ErrSessionInvalid
	case a.Role != policy.RoleAdmin:
		return ErrForbidden
	case !a.SecondFactor:
		return ErrSecondFactorRequired
	}
	return nil
}

// adminUpdate checks the admin, refuses to act on the admin's own account
// when self is false, applies change to the account and audits it as
// action.
func (s *Service) adminUpdate(ctx context.Context, admin policy.Actor, id, action string, self bool,
	detail map[string]string, change func(*store.Account) error,
) (*store.Account, error) {
	if err := checkAdmin(admin); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, ErrNotFound
	}
	if !self && id == admin.UserID {
		return nil, fmt.Errorf("%w: administrators cannot %s their own account; ask another administrator",
			ErrInvalidState, action)
	}
	now := s.now()
	a, err := s.db.UpdateAccount(id, func(acct *store.Account) error {
		if err := change(acct); err != nil {
			return err
		}
		acct.UpdatedAt = now
		return nil
	})
	if err != nil {
		s.recordAdminFailure(ctx, admin, id, action, err)
		return nil, mapStoreError(err)
	}
	s.recordAdmin(ctx, admin, id, action, detail)
	return a, nil
}

// Disable stops an account: it can no longer sign in or accept an
// invitation, and all its sessions end.
func (s *Service) Disable(ctx context.Context, admin policy.Actor, id string) (Account, error) {
	a, err := s.adminUpdate(ctx, admin, id, "disable", false, nil, func(acct *store.Account) error {
		acct.Status = string(StatusDisabled)
		acct.LockedUntil = time.Time{}
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	return accountView(a), s.revokeUserSessions(ctx, id, "", revokeDisabled, admin.UserID)
}

// Enable restores a disabled account to active, or to invited when it
// never set a password.
func (s *Service) Enable(ctx context.Context, admin policy.Actor, id string) (Account, error) {
	a, err := s.adminUpdate(ctx, admin, id, "enable", false, nil, func(acct *store.Account) error {
		if Status(acct.Status) != StatusDisabled {
			return fmt.Errorf("%w: only a disabled account can be enabled", ErrInvalidState)
		}
		acct.Status = string(StatusActive)
		if acct.PasswordHash == "" {
			acct.Status = string(StatusInvited)
		}
		acct.FailedLogins = 0
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	s.throttle.reset(a.Email)
	return accountView(a), nil
}

// Unlock ends a lockout after failed sign-ins and clears the failure
// counters. Unlocking an active account only clears the counters.
func (s *Service) Unlock(ctx context.Context, admin policy.Actor, id string) (Account, error) {
	a, err := s.adminUpdate(ctx, admin, id, "unlock", true, nil, func(acct *store.Account) error {
		switch Status(acct.Status) {
		case StatusLocked:
			acct.Status = string(StatusActive)
		case StatusActive:
		default:
			return fmt.Errorf("%w: only a locked or active account can be unlocked", ErrInvalidState)
		}
		acct.LockedUntil = time.Time{}
		acct.FailedLogins = 0
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	s.throttle.reset(a.Email)
	return accountView(a), nil
}

// ResetSecondFactor removes the account's TOTP secret and recovery codes
// and ends its sessions, for a holder who lost the authenticator. A staff
// account must enroll again at its next sign-in.
func (s *Service) ResetSecondFactor(ctx context.Context, admin policy.Actor, id string) (Account, error) {
	a, err := s.adminUpdate(ctx, admin, id, "reset_second_factor", false, nil, func(acct *store.Account) error {
		acct.TOTPSeed = nil
		acct.TOTPPending = nil
		acct.TOTPLastStep = 0
		acct.RecoveryHashes = nil
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	return accountView(a), s.revokeUserSessions(ctx, id, "", revokeSecondFactor, admin.UserID)
}

// ChangeRole gives the account a new role and ends its sessions, so the
// next sign-in runs under the new role's rules (a second factor for staff).
func (s *Service) ChangeRole(ctx context.Context, admin policy.Actor, id string, role policy.Role) (Account, error) {
	if _, err := policy.ParseRole(string(role)); err != nil {
		return Account{}, fmt.Errorf("change role: %w", err)
	}
	var old string
	detail := map[string]string{"new_role": string(role)}
	a, err := s.adminUpdate(ctx, admin, id, "change_role", false, detail, func(acct *store.Account) error {
		old = acct.Role
		acct.Role = string(role)
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	if old == string(role) {
		return accountView(a), nil
	}
	return accountView(a), s.revokeUserSessions(ctx, id, "", revokeRoleChange, admin.UserID)
}

func (s *Service) recordAdmin(ctx context.Context, admin policy.Actor, target, action string, detail map[string]string) {
	d := map[string]string{"action": action}
	for k, v := range detail {
		d[k] = v
	}
	s.record(ctx, audit.Event{
		Type: "admin.account", ActorID: admin.UserID, TargetID: target, Outcome: audit.OutcomeSuccess, Detail: d,
	})
}

func (s *Service) recordAdminFailure(ctx context.Context, admin policy.Actor, target, action string, err error) {
	s.record(ctx, audit.Event{
		Type: "admin.account", ActorID: admin.UserID, TargetID: target, Outcome: audit.OutcomeFailure,
		Detail: map[string]string{"action": action, "reason": reasonOf(err)},
	})
}
