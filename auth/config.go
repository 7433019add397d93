package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/store"
)

// Config holds the operator's settings for accounts and sign-in. Start from
// DefaultConfig and change what differs; Validate names the first field
// that is out of range.
type Config struct {
	// Issuer is the name authenticator apps show next to a TOTP entry.
	Issuer string
	// SelfSignup lets patients create their own accounts through
	// POST /api/v1/signup. Off by default: patients are invited by staff.
	SelfSignup bool
	// InvitationTTL is how long an invitation token can be accepted.
	InvitationTTL time.Duration
	// ResetTTL is how long a password-reset token can be used.
	ResetTTL time.Duration

	// SessionIdle ends a session after this long without a request.
	SessionIdle time.Duration
	// SessionMax ends a session this long after sign-in, however active.
	SessionMax time.Duration
	// ChallengeTTL is how long the second step of a sign-in may take.
	ChallengeTTL time.Duration
	// ChallengeAttempts is how many wrong codes one challenge accepts
	// before the sign-in has to start again with the password.
	ChallengeAttempts int

	// Password sets the argon2id cost for new hashes. Stored hashes with
	// other parameters are rehashed at the next successful sign-in.
	Password PasswordParams
	// MaxConcurrentHashes bounds how many argon2id computations run at
	// once, so memory use stays under MaxConcurrentHashes × Password.Memory
	// (twice that before the garbage collector returns it). The default is
	// GOMAXPROCS: each hash already uses Password.Threads lanes, and a bound
	// of 2 × GOMAXPROCS measured no more sign-ins per second for twice the
	// heap (docs/benchmarks.md).
	MaxConcurrentHashes int
	// MaxHashQueue bounds how many requests wait for a hashing slot;
	// requests beyond it get 503 at once.
	MaxHashQueue int

	// BackoffAfter is the number of consecutive failures for one email
	// address after which each further attempt must wait, starting at
	// BackoffBase and doubling up to MaxBackoff.
	BackoffAfter int
	// LockoutAfter is the number of consecutive failures that lock the
	// account for LockoutDuration.
	LockoutAfter    int
	LockoutDuration time.Duration
	BackoffBase     time.Duration
	MaxBackoff      time.Duration
	// AddressBackoffAfter is the number of failures from one client
	// address after which that address backs off, whatever email it tries.
	AddressBackoffAfter int
	// AddressRate and AddressBurst limit all unauthenticated requests to
	// the sign-in, sign-up, invitation and reset endpoints per client
	// address, in requests per second.
	AddressRate  float64
	AddressBurst int
	// ThrottleEntries bounds the entries each throttle table keeps (email
	// addresses and client addresses); the least recently used go first.
	ThrottleEntries int
}

// DefaultConfig returns the defaults documented in docs/api.md.
func DefaultConfig() Config {
	return Config{
		Issuer:              "Bedside",
		InvitationTTL:       72 * time.Hour,
		ResetTTL:            24 * time.Hour,
		SessionIdle:         30 * time.Minute,
		SessionMax:          12 * time.Hour,
		ChallengeTTL:        5 * time.Minute,
		ChallengeAttempts:   5,
		Password:            DefaultPasswordParams(),
		MaxConcurrentHashes: max(2, runtime.GOMAXPROCS(0)),
		MaxHashQueue:        64,
		BackoffAfter:        5,
		LockoutAfter:        10,
		LockoutDuration:     15 * time.Minute,
		BackoffBase:         time.Second,
		MaxBackoff:          5 * time.Minute,
		AddressBackoffAfter: 30,
		AddressRate:         2,
		AddressBurst:        30,
		ThrottleEntries:     10000,
	}
}

// Validate returns an error naming the first field that is out of range.
func (c Config) Validate() error {
	checks := []struct {
		ok    bool
		field string
		rule  string
	}{
		{c.Issuer != "" && len(c.Issuer) <= 64, "Issuer", "must be 1 to 64 bytes"},
		{c.InvitationTTL >= time.Minute, "InvitationTTL", "must be at least 1m"},
		{c.ResetTTL >= time.Minute, "ResetTTL", "must be at least 1m"},
		{c.SessionIdle >= time.Minute, "SessionIdle", "must be at least 1m"},
		{c.SessionMax >= c.SessionIdle, "SessionMax", "must be at least SessionIdle"},
		{c.ChallengeTTL >= 30*time.Second, "ChallengeTTL", "must be at least 30s"},
		{c.ChallengeAttempts >= 1, "ChallengeAttempts", "must be at least 1"},
		{c.MaxConcurrentHashes >= 1, "MaxConcurrentHashes", "must be at least 1"},
		{c.MaxHashQueue >= 0, "MaxHashQueue", "must not be negative"},
		{c.BackoffAfter >= 1, "BackoffAfter", "must be at least 1"},
		{c.LockoutAfter > c.BackoffAfter, "LockoutAfter", "must be greater than BackoffAfter"},
		{c.LockoutDuration >= time.Second, "LockoutDuration", "must be at least 1s"},
		{c.BackoffBase > 0, "BackoffBase", "must be positive"},
		{c.MaxBackoff >= c.BackoffBase, "MaxBackoff", "must be at least BackoffBase"},
		{c.AddressBackoffAfter >= 1, "AddressBackoffAfter", "must be at least 1"},
		{c.AddressRate > 0, "AddressRate", "must be positive"},
		{c.AddressBurst >= 1, "AddressBurst", "must be at least 1"},
		{c.ThrottleEntries >= 16, "ThrottleEntries", "must be at least 16"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return fmt.Errorf("auth config: %s %s", ch.field, ch.rule)
		}
	}
	if err := c.Password.validate(); err != nil {
		return fmt.Errorf("auth config: Password: %w", err)
	}
	return nil
}

// Deps are the collaborators of a Service. DB, Sealer and Audit are
// required; Logger defaults to discarding and Now to time.Now.
type Deps struct {
	DB     *store.DB
	Sealer *store.Sealer
	Audit  audit.Recorder
	Logger *slog.Logger
	// Now returns the current time; tests replace it to move the clock.
	Now func() time.Time
}

func (d *Deps) fill() error {
	switch {
	case d.DB == nil:
		return errors.New("auth: Deps.DB is nil")
	case d.Sealer == nil:
		return errors.New("auth: Deps.Sealer is nil")
	case d.Audit == nil:
		return errors.New("auth: Deps.Audit is nil; pass audit.Discard{} to drop events")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return nil
}
