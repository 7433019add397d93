package auth

import (
	"context"
	"fmt"
	"github.com/bedside-health/bedside/policy"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/store"
)

// Service owns accounts, passwords, second factors, sessions and their
// HTTP API. Create it with New; all methods are safe for concurrent use.
type Service struct {
	cfg    Config
	db     *store.DB
	sealer *store.Sealer
	audit  audit.Recorder
	log    *slog.Logger
	now    func() time.Time

	hasher *hasher
	// dummyHash is verified for unknown email addresses so they cost the
	// same argon2id work as known ones.
	dummyHash  string
	touchEvery time.Duration
	throttle   *throttle
	lastPurge  atomic.Int64 // Unix nanoseconds

	hooksMu     sync.Mutex
	hooks       []func(sessionID, userID string)
	inviteHooks []func(ctx context.Context, inviter policy.Actor, inv Invitation)
}

// New checks cfg and deps and returns a Service. It computes one argon2id
// hash of a random password to use for unknown email addresses.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.fill(); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:        cfg,
		db:         deps.DB,
		sealer:     deps.Sealer,
		audit:      deps.Audit,
		log:        deps.Logger,
		now:        deps.Now,
		hasher:     newHasher(cfg.Password, cfg.MaxConcurrentHashes, cfg.MaxHashQueue),
		touchEvery: min(maxTouchGranularity, cfg.SessionIdle/touchGranularityPart),
		throttle:   newThrottle(cfg, deps.Now),
	}
	random, _ := newToken("")
	dummy, err := s.hasher.hash(context.Background(), random)
	if err != nil {
		return nil, fmt.Errorf("auth: compute dummy hash: %w", err)
	}
	s.dummyHash = dummy
	s.hasher.count.Store(0)
	return s, nil
}

// Config returns the configuration the Service runs with.
func (s *Service) Config() Config { return s.cfg }

// record sends e to the audit recorder, stamping the time from the
// Service's clock.
func (s *Service) record(ctx context.Context, e audit.Event) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	s.audit.Record(ctx, e)
}
