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

// Invitation is a new invitation. Token is shown once to the inviter, who
// passes it to the invitee; only its SHA-256 digest is stored.
type Invitation struct {
	AccountID string      `json:"account_id"`
	Email     string      `json:"email"`
	Role      policy.Role `json:"role"`
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// LogValue keeps the token out of logs.
func (i Invitation) LogValue() slog.Value {
	return slog.GroupValue(slog.String("account", i.AccountID), slog.String("role", string(i.Role)))
}

// CreateUser creates an account in status invited and returns its
// one-time enrollment token, valid for Config.InvitationTTL. The operator
// command that creates the first administrator uses it; it checks no
// caller. displayName may be empty, in which case the invitee sets it.
func (s *Service) CreateUser(ctx context.Context, email string, role policy.Role, displayName string) (Invitation, error) {
	return s.invite(ctx, policy.Actor{}, email, role, displayName)
}

// Invite creates an invitation on behalf of inviter if the access policy
// grants policy.ActionInvitationCreate for role: staff accounts only by
// administrators, patients also by clinicians and nurses, and staff only
// with a second factor. A denial returns the policy's *api.Error. An email
// address whose account is still invited with the same role gets a new
// token, which retires the old one, when the inviter created that account
// or is an administrator. Any other inviter gets ErrEmailTaken, so that no
// clinician or nurse takes over an invitation someone else issued.
func (s *Service) Invite(ctx context.Context, inviter policy.Actor, email string, role policy.Role,
	displayName string,
) (Invitation, error) {
	res := policy.Resource{Kind: policy.KindInvitation, Role: role}
	d := policy.Decide(inviter, policy.ActionInvitationCreate, res, policy.RelNone)
	if !d.Allowed {
		if !errors.Is(d.Reason, policy.ErrSecondFactor) && !errors.Is(d.Reason, policy.ErrUnauthenticated) {
			s.record(ctx, audit.Event{
				Type: "auth.invitation.create", ActorID: inviter.UserID, Outcome: audit.OutcomeDenied,
				Detail: map[string]string{"role": string(role)},
			})
		}
		return Invitation{}, d.Err()
	}
	inv, err := s.invite(ctx, inviter, email, role, displayName)
	if err != nil {
		return inv, err
	}
	s.hooksMu.Lock()
	hooks := s.inviteHooks
	s.hooksMu.Unlock()
	for _, fn := range hooks {
		fn(ctx, inviter, inv)
	}
	return inv, nil
}

// OnInvite registers fn to run after each successful Invite, for example
// to put the inviting clinician on a new patient's care team. fn runs in
// the request's goroutine. Register hooks before serving.
func (s *Service) OnInvite(fn func(ctx context.Context, inviter policy.Actor, inv Invitation)) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.inviteHooks = append(s.inviteHooks, fn)
}

// invite creates an invited account, or issues a new token for an
// account that is still invited. inviter is the zero Actor for the
// operator, who may re-issue any invitation.
func (s *Service) invite(ctx context.Context, inviter policy.Actor, email string, role policy.Role,
	displayName string,
) (Invitation, error) {
	inviterID := inviter.UserID
	norm, err := NormalizeEmail(email)
	if err != nil {
		return Invitation{}, err
	}
	if _, err := policy.ParseRole(string(role)); err != nil {
		return Invitation{}, fmt.Errorf("invite: %w", err)
	}
	if displayName != "" {
		if displayName, err = normalizeDisplayName(displayName); err != nil {
			return Invitation{}, err
		}
	}
	now := s.now()
	token, digest := newToken(prefixInvitation)
	grant := &store.Grant{CreatedBy: inviterID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.InvitationTTL)}

	existing, err := s.db.AccountByEmail(norm)
	switch {
	case err == nil:
		grant.AccountID = existing.ID
		_, err = s.db.IssueInvitation(digest, grant, func(a *store.Account) error {
			if Status(a.Status) != StatusInvited || a.Role != string(role) {
				return ErrEmailTaken
			}
			if !mayReissue(inviter, a) {
				return errReissueDenied
			}
			return nil
		})
	case errors.Is(err, store.ErrNotFound):
		grant.AccountID = newID()
		err = s.db.CreateInvitedAccount(&store.Account{
			ID: grant.AccountID, Email: norm, DisplayName: displayName, Role: string(role),
			Status: string(StatusInvited), CreatedAt: now, UpdatedAt: now, InvitedBy: inviterID,
		}, digest, grant)
	}
	if errors.Is(err, errReissueDenied) {
		// The response is the one for an active account, so it tells the
		// inviter nothing more than that the address is taken.
		s.record(ctx, audit.Event{
			Type: "auth.invitation.create", ActorID: inviterID, TargetID: grant.AccountID,
			Outcome: audit.OutcomeDenied,
			Detail:  map[string]string{"role": string(role), "reason": "invited_by_another_account"},
		})
		return Invitation{}, ErrEmailTaken
	}
	if err != nil {
		return Invitation{}, mapStoreError(err)
	}
	s.record(ctx, audit.Event{
		Type: "auth.invitation.create", ActorID: inviterID, TargetID: grant.AccountID,
		Outcome: audit.OutcomeSuccess, Detail: map[string]string{"role": string(role)},
	})
	return Invitation{
		AccountID: grant.AccountID, Email: norm, Role: role, Token: token, ExpiresAt: grant.ExpiresAt,
	}, nil
}

// errReissueDenied stops a new token for an invitation that another
// account issued. invite returns ErrEmailTaken in its place.
var errReissueDenied = errors.New("invitation issued by another account")

// mayReissue reports whether inviter may issue a new token for the invited
// account a: the operator and administrators may, and so may the account
// that issued the invitation. Anyone else would receive a token that sets
// the password of an account another inviter set up, possibly with
// consultations already booked for it.
func mayReissue(inviter policy.Actor, a *store.Account) bool {
	if inviter.UserID == "" || inviter.Role == policy.RoleAdmin {
		return true
	}
	return a.InvitedBy != "" && a.InvitedBy == inviter.UserID
}

// acceptInvitation sets the password (and the display name, when given
// or still empty) of an invited account and activates it. The token is
// used up only when everything succeeds.
func (s *Service) acceptInvitation(ctx context.Context, token, password, displayName string, c client) (Account, error) {
	if err := s.throttle.allowAddress(c.Address); err != nil {
		return Account{}, err
	}
	digest, ok := parseToken(prefixInvitation, token)
	if !ok {
		s.throttle.failAddress(c.Address)
		return Account{}, ErrTokenInvalid
	}
	grant, err := s.db.Invitation(digest)
	if err != nil || !s.now().Before(grant.ExpiresAt) {
		s.throttle.failAddress(c.Address)
		return Account{}, ErrTokenInvalid
	}
	a, err := s.db.Account(grant.AccountID)
	if err != nil || Status(a.Status) != StatusInvited {
		return Account{}, ErrTokenInvalid
	}
	name := a.DisplayName
	if displayName != "" || name == "" {
		if name, err = normalizeDisplayName(displayName); err != nil {
			return Account{}, err
		}
	}
	hash, err := s.newPasswordHash(ctx, password, a, name)
	if err != nil {
		return Account{}, err
	}

	now := s.now()
	a, err = s.db.RedeemInvitation(digest, func(g *store.Grant, acct *store.Account) error {
		if !now.Before(g.ExpiresAt) || Status(acct.Status) != StatusInvited {
			return ErrTokenInvalid
		}
		acct.PasswordHash = hash
		acct.PasswordChangedAt = now
		acct.DisplayName = name
		acct.Status = string(StatusActive)
		acct.UpdatedAt = now
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Account{}, ErrTokenInvalid
	}
	if err != nil {
		return Account{}, err
	}
	s.record(ctx, audit.Event{
		Type: "auth.invitation.accept", ActorID: a.ID, TargetID: a.ID, Address: c.Address,
		Outcome: audit.OutcomeSuccess, Detail: map[string]string{"role": a.Role},
	})
	return accountView(a), nil
}

// signup creates an active patient account when Config.SelfSignup is on.
func (s *Service) signup(ctx context.Context, email, password, displayName string, c client) (Account, error) {
	if !s.cfg.SelfSignup {
		return Account{}, ErrSignupDisabled
	}
	if err := s.throttle.allowAddress(c.Address); err != nil {
		return Account{}, err
	}
	norm, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, err
	}
	name, err := normalizeDisplayName(displayName)
	if err != nil {
		return Account{}, err
	}
	now := s.now()
	a := &store.Account{
		ID: newID(), Email: norm, DisplayName: name, Role: string(policy.RolePatient),
		Status: string(StatusActive), CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now,
	}
	if a.PasswordHash, err = s.newPasswordHash(ctx, password, a, name); err != nil {
		return Account{}, err
	}
	// NOTE: a taken address gets 409, which shows a caller that the
	// address has an account; the address rate limit bounds how fast
	// anyone can probe.
	if err := s.db.CreateAccount(a); err != nil {
		return Account{}, mapStoreError(err)
	}
	s.record(ctx, audit.Event{
		Type: "auth.signup", ActorID: a.ID, TargetID: a.ID, Address: c.Address,
		Outcome: audit.OutcomeSuccess,
	})
	return accountView(a), nil
}

// newPasswordHash checks password against the rules for account a with
// display name name, and returns its argon2id hash.
func (s *Service) newPasswordHash(ctx context.Context, password string, a *store.Account, name string) (string, error) {
	err := checkPassword(password, passwordContext{
		role: policy.Role(a.Role), email: a.Email, displayName: name, issuer: s.cfg.Issuer,
	})
	if err != nil {
		return "", err
	}
	return s.hasher.hash(ctx, password)
}
