package clinic

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Config holds the clinic's limits. Zero fields take the defaults below.
type Config struct {
	// JoinBefore is how long before the scheduled start participants may
	// join (default 15 minutes).
	JoinBefore time.Duration
	// JoinGrace is how long after the scheduled end participants may still
	// join (default 30 minutes).
	JoinGrace time.Duration
	// MaxParticipants bounds the participants of one consultation,
	// patient included (default 8).
	MaxParticipants int
	// MaxDuration bounds a consultation's length (default 4 hours).
	MaxDuration time.Duration
	// MaxLeadTime bounds how far ahead a consultation may start (default
	// 2 years).
	MaxLeadTime time.Duration
	// MaxCareTeam bounds the members of one care team (default 32).
	MaxCareTeam int
	// MaxListSpan bounds the from-to range of a schedule query (default
	// 366 days).
	MaxListSpan time.Duration
	// MaxListItems bounds the consultations one schedule query returns
	// (default 500); a longer result is cut and marked truncated.
	MaxListItems int
	// MaxBillingEntries bounds the entries of one consultation (default
	// 100).
	MaxBillingEntries int
}

func (c Config) withDefaults() Config {
	setDuration(&c.JoinBefore, 15*time.Minute)
	setDuration(&c.JoinGrace, 30*time.Minute)
	setDuration(&c.MaxDuration, 4*time.Hour)
	setDuration(&c.MaxLeadTime, 2*366*24*time.Hour)
	setDuration(&c.MaxListSpan, 366*24*time.Hour)
	setInt(&c.MaxParticipants, 8)
	setInt(&c.MaxCareTeam, 32)
	setInt(&c.MaxListItems, 500)
	setInt(&c.MaxBillingEntries, 100)
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func setInt(n *int, def int) {
	if *n <= 0 {
		*n = def
	}
}

// Users looks up accounts, so the clinic can check that referenced ids
// exist and hold a fitting role. Package auth provides the implementation.
type Users interface {
	// UserRole returns the role of account id, or an error wrapping
	// store.ErrNotFound when there is no such account.
	UserRole(ctx context.Context, id string) (policy.Role, error)
}

// Deps are the clinic's collaborators. DB and Sealer are required.
type Deps struct {
	DB     *store.DB
	Sealer *store.Sealer
	// Audit receives the clinic's events; nil discards them.
	Audit audit.Recorder
	// Logger receives server faults; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Users checks referenced account ids and roles. When nil, ids are
	// only checked for their format and care team roles are taken from the
	// request.
	Users Users
}

// Service owns care teams, consultations and billing entries, and decides
// access for the whole product through Authorize. It is safe for
// concurrent use.
type Service struct {
	cfg    Config
	db     *store.DB
	sealer *store.Sealer
	audit  audit.Recorder
	log    *slog.Logger
	now    func() time.Time
	users  Users
}

// New returns a Service; it fails when DB or Sealer is missing.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.DB == nil {
		return nil, errors.New("clinic: Deps.DB is required")
	}
	if deps.Sealer == nil {
		return nil, errors.New("clinic: Deps.Sealer is required")
	}
	s := &Service{
		cfg:    cfg.withDefaults(),
		db:     deps.DB,
		sealer: deps.Sealer,
		audit:  deps.Audit,
		log:    deps.Logger,
		now:    deps.Now,
		users:  deps.Users,
	}
	if s.audit == nil {
		s.audit = audit.Discard{}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Config returns the effective configuration, defaults applied.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) record(ctx context.Context, typ string, actor policy.Actor, target string,
	outcome audit.Outcome, detail map[string]string) {
	s.audit.Record(ctx, audit.Event{
		Type:     typ,
		Time:     s.now(),
		ActorID:  actor.UserID,
		TargetID: target,
		Outcome:  outcome,
		Detail:   detail,
	})
}
