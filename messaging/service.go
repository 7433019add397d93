package messaging

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Config holds the operator's limits. Zero fields take the defaults named
// on each field.
type Config struct {
	// MaxMessageBytes bounds the request body of one sealed message
	// (default 256 KiB).
	MaxMessageBytes int64
	// MaxEnvelopes bounds the key envelopes of one message (default and
	// maximum e2ee.MaxRecipients, 256). A conversation whose members hold
	// more current devices than this cannot receive messages, so lower
	// it only together with MaxDevicesPerUser and the care team size.
	MaxEnvelopes int
	// MaxDevicesPerUser bounds a user's current devices (default 10,
	// at most e2ee.MaxDevices).
	MaxDevicesPerUser int
	// MaxAttachmentBytes bounds the ciphertext size of one attachment
	// (default 25 MiB).
	MaxAttachmentBytes int64
	// AttachmentQuotaBytes bounds the attachment bytes one user stores,
	// uploads in progress included (default 500 MiB).
	AttachmentQuotaBytes int64
	// MaxChunkBytes bounds one upload request body (default 1 MiB). The
	// server's own request body limit must be at least as large.
	MaxChunkBytes int64
	// UploadExpiry is how long an unfinished upload is kept before the
	// background job deletes it (default 24 hours).
	UploadExpiry time.Duration
	// RetentionDays deletes messages and attachments older than this many
	// days; 0 keeps them forever.
	RetentionDays int
	// SweepInterval is the period of the background job (default 1 hour).
	SweepInterval time.Duration
	// MaxPageMessages bounds the messages of one fetch (default 100).
	MaxPageMessages int
	// MaxPageBytes stops a fetch page once its ciphertext reaches this
	// size (default 4 MiB); one larger message is still returned whole.
	MaxPageBytes int
	// BatchDelay is how long bbolt's DB.Batch waits to gather concurrent
	// sends into one transaction, and so one fsync. It sets the
	// MaxBatchDelay of the whole database (default 1ms; see
	// docs/benchmarks.md for the measurements behind it).
	BatchDelay time.Duration
}

// Defaults of Config.
const (
	DefaultMaxMessageBytes      = 256 << 10
	DefaultMaxEnvelopes         = e2ee.MaxRecipients
	DefaultMaxDevicesPerUser    = 10
	DefaultMaxAttachmentBytes   = 25 << 20
	DefaultAttachmentQuotaBytes = 500 << 20
	DefaultMaxChunkBytes        = 1 << 20
	DefaultUploadExpiry         = 24 * time.Hour
	DefaultSweepInterval        = time.Hour
	DefaultMaxPageMessages      = 100
	DefaultMaxPageBytes         = 4 << 20
	DefaultBatchDelay           = time.Millisecond
)

func (c Config) withDefaults() (Config, error) {
	setDefault(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&c.MaxEnvelopes, DefaultMaxEnvelopes)
	setDefault(&c.MaxDevicesPerUser, DefaultMaxDevicesPerUser)
	setDefault(&c.MaxAttachmentBytes, DefaultMaxAttachmentBytes)
	setDefault(&c.AttachmentQuotaBytes, DefaultAttachmentQuotaBytes)
	setDefault(&c.MaxChunkBytes, DefaultMaxChunkBytes)
	setDefault(&c.UploadExpiry, DefaultUploadExpiry)
	setDefault(&c.SweepInterval, DefaultSweepInterval)
	setDefault(&c.MaxPageMessages, DefaultMaxPageMessages)
	setDefault(&c.MaxPageBytes, DefaultMaxPageBytes)
	setDefault(&c.BatchDelay, DefaultBatchDelay)
	switch {
	case c.MaxEnvelopes > e2ee.MaxRecipients:
		return c, fmt.Errorf("%w: MaxEnvelopes %d exceeds the format's limit of %d",
			ErrInvalidConfig, c.MaxEnvelopes, e2ee.MaxRecipients)
	case c.MaxDevicesPerUser > e2ee.MaxDevices:
		return c, fmt.Errorf("%w: MaxDevicesPerUser %d exceeds the device list limit of %d",
			ErrInvalidConfig, c.MaxDevicesPerUser, e2ee.MaxDevices)
	case c.MaxMessageBytes > e2ee.MaxSealedSize:
		return c, fmt.Errorf("%w: MaxMessageBytes %d exceeds the largest sealed message, %d bytes",
			ErrInvalidConfig, c.MaxMessageBytes, e2ee.MaxSealedSize)
	case c.AttachmentQuotaBytes < c.MaxAttachmentBytes:
		return c, fmt.Errorf("%w: AttachmentQuotaBytes %d is below MaxAttachmentBytes %d",
			ErrInvalidConfig, c.AttachmentQuotaBytes, c.MaxAttachmentBytes)
	case c.RetentionDays < 0:
		return c, fmt.Errorf("%w: RetentionDays %d is negative; use 0 to keep messages",
			ErrInvalidConfig, c.RetentionDays)
	}
	return c, nil
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Directory is the port to the clinic: the access decision and the
// members of each conversation. ClinicDirectory adapts
// *clinic.Service to it. Implementations must be safe for concurrent use.
type Directory interface {
	// Authorize returns nil when actor may perform action on res, and
	// otherwise the *api.Error to send (api.NotFound when the actor has
	// no relation to res, as for a missing resource).
	Authorize(ctx context.Context, actor policy.Actor, action policy.Action, res policy.Resource) error
	// ConversationMembers returns the user ids whose devices receive the
	// conversation's messages: a consultation's participants, or a
	// patient and his care team. A conversation whose consultation or
	// patient does not exist yields an error wrapping
	// ErrConversationNotFound.
	ConversationMembers(ctx context.Context, conv Conversation) ([]string, error)
	// Conversations lists the conversations actor is a member of.
	Conversations(ctx context.Context, actor policy.Actor) ([]Conversation, error)
}

// Notifier notifies online users that a message arrived. It receives ids
// only, never content, and must not block: the signaling hub queues the
// notification or drops it for a user who is offline.
type Notifier interface {
	NotifyMessage(userIDs []string, conversationID, messageID string)
}

// Deps are the service's collaborators. DB, DataDir, Directory and Names
// are required.
type Deps struct {
	DB *store.DB
	// DataDir is the server's data directory; attachments are stored in
	// DataDir/attachments.
	DataDir   string
	Directory Directory
	// Names supplies the display names and roles of conversation members.
	Names Names
	// Notifier receives the ids of new messages; nil notifies nobody.
	Notifier Notifier
	// Audit receives message, device and attachment events; nil discards
	// them.
	Audit audit.Recorder
	// Logger receives lifecycle lines, handled client errors and server
	// faults, with ids only; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Service is the encrypted messaging service: device directory,
// conversations, message store and attachments. It is safe for concurrent
// use. Call Start to run retention in the background and Close to stop it.
type Service struct {
	cfg       Config
	db        *store.DB
	dir       Directory
	names     Names
	notifier  Notifier
	audit     audit.Recorder
	log       *slog.Logger
	now       func() time.Time
	blobDir   string
	warnLimit *rate.Limiter

	uploadsMu sync.Mutex
	uploads   map[string]bool // attachment ids with a chunk being written

	jobMu   sync.Mutex
	jobStop context.CancelFunc
	jobDone chan struct{}
}

// AttachmentDirName is the directory under the data directory that holds
// attachment files.
const AttachmentDirName = "attachments"

// New validates cfg, creates DataDir/attachments (mode 0700) and returns
// the service. It sets the database's MaxBatchDelay to cfg.BatchDelay.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case deps.DB == nil:
		return nil, fmt.Errorf("%w: Deps.DB is required", ErrInvalidConfig)
	case deps.DataDir == "":
		return nil, fmt.Errorf("%w: Deps.DataDir is required", ErrInvalidConfig)
	case deps.Directory == nil:
		return nil, fmt.Errorf("%w: Deps.Directory is required", ErrInvalidConfig)
	case deps.Names == nil:
		return nil, fmt.Errorf("%w: Deps.Names is required", ErrInvalidConfig)
	}
	blobDir := filepath.Join(deps.DataDir, AttachmentDirName)
	if err := os.MkdirAll(blobDir, 0o700); err != nil {
		return nil, fmt.Errorf("create attachment directory: %w", err)
	}
	s := &Service{
		cfg:      cfg,
		db:       deps.DB,
		dir:      deps.Directory,
		names:    deps.Names,
		notifier: deps.Notifier,
		audit:    deps.Audit,
		log:      deps.Logger,
		now:      deps.Now,
		blobDir:  blobDir,
		// At most one warning a second on average, bursts of 10, so a
		// misbehaving client cannot flood the log.
		warnLimit: rate.NewLimiter(1, 10),
		uploads:   make(map[string]bool),
	}
	if s.audit == nil {
		s.audit = audit.Discard{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.db.Bolt().MaxBatchDelay = cfg.BatchDelay
	return s, nil
}

// Config returns the effective configuration, defaults applied.
func (s *Service) Config() Config { return s.cfg }

// warn logs a handled client error, rate-limited.
func (s *Service) warn(ctx context.Context, msg string, attrs ...slog.Attr) {
	if s.warnLimit.Allow() {
		s.log.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
	}
}

func (s *Service) record(ctx context.Context, e audit.Event) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	s.audit.Record(ctx, e)
}
