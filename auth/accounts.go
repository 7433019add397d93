package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Status is the lifecycle state of an account.
type Status string

// Account statuses. Only active and locked accounts have sessions; a
// locked account keeps its sessions but cannot sign in until LockedUntil
// or an administrator's unlock.
const (
	StatusInvited  Status = "invited"
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
	StatusLocked   Status = "locked"
)

// Limits on account fields.
const (
	maxEmailLength       = 254 // RFC 5321 path limit
	maxDisplayNameLength = 100 // code points
)

// Account is the public view of an account for other packages and API
// clients. It contains no secret.
type Account struct {
	ID          string      `json:"id"`
	Email       string      `json:"email"`
	DisplayName string      `json:"display_name"`
	Role        policy.Role `json:"role"`
	Status      Status      `json:"status"`
	// SecondFactor is true when a TOTP second factor is confirmed.
	SecondFactor bool      `json:"second_factor"`
	CreatedAt    time.Time `json:"created_at"`
	LockedUntil  time.Time `json:"locked_until,omitzero"`
	FailedLogins int       `json:"failed_logins,omitempty"`
	// RecoveryCodesLeft is the number of unused recovery codes.
	RecoveryCodesLeft int `json:"recovery_codes_left"`
}

func accountView(a *store.Account) Account {
	return Account{
		ID:                a.ID,
		Email:             a.Email,
		DisplayName:       a.DisplayName,
		Role:              policy.Role(a.Role),
		Status:            Status(a.Status),
		SecondFactor:      len(a.TOTPSeed) > 0,
		CreatedAt:         a.CreatedAt,
		LockedUntil:       a.LockedUntil,
		FailedLogins:      a.FailedLogins,
		RecoveryCodesLeft: len(a.RecoveryHashes),
	}
}

// NormalizeEmail trims and lower-cases an email address and checks that
// it is a plain address (no display name or comments) of at most 254
// bytes. It returns ErrInvalidEmail otherwise.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" || len(e) > maxEmailLength || !utf8.ValidString(e) {
		return "", ErrInvalidEmail
	}
	parsed, err := mail.ParseAddress(e)
	if err != nil || parsed.Address != e || parsed.Name != "" {
		return "", ErrInvalidEmail
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// normalizeDisplayName trims a display name and checks that it has 1 to
// 100 code points and no control or format characters.
func normalizeDisplayName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || !utf8.ValidString(n) || utf8.RuneCountInString(n) > maxDisplayNameLength {
		return "", ErrInvalidDisplayName
	}
	for _, r := range n {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", ErrInvalidDisplayName
		}
	}
	return n, nil
}

// newID returns a random 128-bit identifier in lower-case hex.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validID reports whether s has the shape of an id from newID, so path
// values are checked before they reach the database.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// Account returns the account with the given id, or ErrNotFound.
func (s *Service) Account(ctx context.Context, id string) (Account, error) {
	if !validID(id) {
		return Account{}, ErrNotFound
	}
	a, err := s.db.Account(id)
	if err != nil {
		return Account{}, mapStoreError(err)
	}
	return accountView(a), nil
}

// AccountByEmail returns the account registered under email, or
// ErrNotFound. The address is normalised first.
func (s *Service) AccountByEmail(ctx context.Context, email string) (Account, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, err
	}
	a, err := s.db.AccountByEmail(e)
	if err != nil {
		return Account{}, mapStoreError(err)
	}
	return accountView(a), nil
}

// Accounts returns up to limit accounts in id order after the id after,
// for paging through all accounts.
func (s *Service) Accounts(ctx context.Context, after string, limit int) ([]Account, error) {
	list, err := s.db.Accounts(after, limit)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out := make([]Account, len(list))
	for i, a := range list {
		out[i] = accountView(a)
	}
	return out, nil
}

// mapStoreError turns store sentinels into this package's.
func mapStoreError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("%w: %w", ErrEmailTaken, err)
	}
	return err
}
