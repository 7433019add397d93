package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bedside-health/bedside/store"
)

// Notifier pushes an alert to the administrators connected right now. The
// WebSocket hub implements it. The Log calls NotifyAdmins from one
// goroutine of its own, never from a request. NotifyAdmins should return
// quickly, because later alerts wait behind it in a queue of 256, and a
// full queue drops the live push (the alert itself stays stored).
type Notifier interface {
	NotifyAdmins(Alert)
}

// Deps are the Log's collaborators. DB and SigningKey are required.
type Deps struct {
	DB *store.DB
	// SigningKey signs checkpoints; derive it with SigningKey(serverKey).
	SigningKey ed25519.PrivateKey
	// Notifier receives each new alert; nil pushes nothing.
	Notifier Notifier
	// Logger receives lifecycle messages and one warning per alert, with
	// ids only; nil discards.
	Logger *slog.Logger
	// Now is the clock for event and alert times and detector windows;
	// nil means time.Now. Webhook retries use the real clock.
	Now func() time.Time
	// HTTPClient posts to the webhook; nil means a client with
	// Config.WebhookTimeout. Redirects are never followed.
	HTTPClient *http.Client
}

// Log is the append-only audit trail: it sanitizes events, writes them in
// batches to the hash chain, signs checkpoints, runs the detectors and
// raises alerts. Its methods are safe for concurrent use. Create it with
// New and stop it with Close.
type Log struct {
	cfg   Config
	db    *store.DB
	key   ed25519.PrivateKey
	log   *slog.Logger
	now   func() time.Time
	san   sanitizer
	met   *metrics
	det   *detectors
	alert *alerter

	// mu guards closed. Record and Flush hold it for reading while they
	// enqueue, so nothing can be enqueued after the stop item of Close.
	mu     sync.RWMutex
	closed bool

	queue   chan item
	dropped atomic.Uint64 // events dropped since the writer last recorded a count

	// Writer state, owned by the writer goroutine after New.
	seq        uint64
	head       Hash
	cpSeq      uint64
	cpTime     time.Time
	startAlert *store.Alert // raised by the writer when New found a damaged tail

	abort      chan struct{} // closed when Close gives up waiting: stop retrying
	abortOnce  sync.Once
	writerDone chan struct{}
}

// item is one entry of the writer queue: an event, a flush barrier or the
// stop request from Close.
type item struct {
	ev      Event
	barrier chan struct{}
	stop    bool
}

// New opens the audit log on deps.DB and starts its writer, notifier and
// webhook goroutines. It continues the hash chain from the last stored
// record.
func New(cfg Config, deps Deps) (*Log, error) {
	if deps.DB == nil {
		return nil, fmt.Errorf("%w: Deps.DB is nil", ErrInvalidConfig)
	}
	if len(deps.SigningKey) != ed25519.PrivateKeySize {
		return nil, ErrNoSigningKey
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hours, err := parseClinicHours(cfg.ClinicHours, cfg.ClinicDays, cfg.ClinicTimeZone)
	if err != nil {
		return nil, err
	}

	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}

	l := &Log{
		cfg:        cfg,
		db:         deps.DB,
		key:        deps.SigningKey,
		log:        deps.Logger,
		now:        deps.Now,
		met:        newMetrics(cfg.Registerer),
		queue:      make(chan item, cfg.QueueSize),
		abort:      make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	l.san = sanitizer{maxValue: cfg.MaxDetailValue, now: deps.Now, stripped: func(reason string) {
		l.met.stripped.WithLabelValues(reason).Inc()
	}}
	l.det = newDetectors(&l.cfg, hours)
	if err := l.loadHead(); err != nil {
		return nil, err
	}
	l.alert = newAlerter(&l.cfg, deps, l.met)
	go l.run()
	return l, nil
}

// loadHead reads the last record and checkpoint so the chain continues. A
// damaged last record does not stop the server: the chain continues from
// its stored hash and a critical alert is raised, because Verify reports
// the damage anyway.
func (l *Log) loadHead() error {
	last, err := l.db.LastAudit()
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("open audit log: %w", err)
	default:
		l.seq = last.Seq
		r, computed, derr := decodeRecord(last.Value)
		if len(last.Value) >= len(l.head) {
			copy(l.head[:], last.Value[len(last.Value)-len(l.head):])
		}
		if derr != nil || computed != r.Hash || r.Seq != last.Seq {
			l.log.Error("last audit record is damaged; run bedside audit verify",
				slog.Uint64("seq", last.Seq))
			l.startAlert = &store.Alert{
				Type: AlertAuditIntegrity, Severity: string(SeverityCritical),
				Time: l.now().UTC(), EventSeq: last.Seq,
			}
		}
	}
	l.cpTime = l.now()
	cp, err := l.db.LastAuditCheckpoint()
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("open audit log: %w", err)
	default:
		l.cpSeq = cp.Seq
		if c, err := decodeCheckpoint(cp.Value); err == nil {
			l.cpTime = c.Time
		}
	}
	return nil
}

// Record queues e for the log and returns. It never fails: an event that
// cannot be queued within Config.QueueWait is dropped and counted, and the
// next batch records an audit.dropped event that raises a critical alert.
// The event is recorded even when ctx is already done, because a client
// that went away must not erase its trail. e.Detail is copied, not
// retained.
func (l *Log) Record(ctx context.Context, e Event) {
	it := item{ev: l.san.clean(e)}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.met.dropped.Inc()
		l.log.Warn("audit event after close was dropped", slog.String("type", it.ev.Type))
		return
	}
	select {
	case l.queue <- it:
		return
	default:
	}
	t := time.NewTimer(l.cfg.QueueWait)
	defer t.Stop()
	select {
	case l.queue <- it:
	case <-t.C:
		l.dropped.Add(1)
		l.met.dropped.Inc()
	}
}

// Flush waits until every event recorded before the call is committed to
// disk and has passed the detectors, and alerts raised by them are
// stored. It returns ctx's error if ctx ends first and ErrClosed after
// Close.
func (l *Log) Flush(ctx context.Context) error {
	done := make(chan struct{})
	if err := l.enqueue(ctx, item{barrier: done}); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush audit log: %w", ctx.Err())
	}
}

func (l *Log) enqueue(ctx context.Context, it item) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case l.queue <- it:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush audit log: %w", ctx.Err())
	}
}

// Close writes the queued events and a final checkpoint, then stops the
// writer, the notifier and the webhook sender. Events recorded after Close
// starts are dropped and counted. If ctx ends first, Close abandons the
// remaining writes and webhook deliveries (undelivered alerts stay queued
// in the database for the next start) and returns ctx's error. Calling
// Close again returns nil.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()

	var err error
	select {
	case l.queue <- item{stop: true}:
		select {
		case <-l.writerDone:
		case <-ctx.Done():
			err = ctx.Err()
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		// The writer gives up its retries; a stop item still in the
		// queue or the abort below ends it.
		l.abortOnce.Do(func() { close(l.abort) })
		<-l.writerDone
	}
	l.alert.close()
	if err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	return nil
}

// run is the writer goroutine: it takes up to BatchSize queued items at a
// time and writes them in one transaction, and wakes every
// CheckpointInterval to sign a checkpoint over idle records.
func (l *Log) run() {
	defer close(l.writerDone)
	tick := time.NewTicker(l.cfg.CheckpointInterval)
	defer tick.Stop()
	if l.startAlert != nil {
		l.raise([]*store.Alert{l.startAlert})
	}
	batch := make([]item, 0, l.cfg.BatchSize)
	for {
		select {
		case it := <-l.queue:
			batch = append(batch[:0], it)
			stop := it.stop
		fill:
			for !stop && len(batch) < l.cfg.BatchSize {
				select {
				case it := <-l.queue:
					batch = append(batch, it)
					stop = it.stop
				default:
					break fill
				}
			}
			l.writeBatch(batch, stop)
			if stop {
				return
			}
		case <-tick.C:
			l.writeBatch(nil, false)
		case <-l.abort:
			return
		}
	}
}

// writeBatch appends the events in items to the chain in one transaction,
// adds a checkpoint when one is due, runs the detectors and releases the
// flush barriers.
func (l *Log) writeBatch(items []item, final bool) {
	events := make([]Event, 0, len(items)+1)
	var barriers []chan struct{}
	for _, it := range items {
		switch {
		case it.barrier != nil:
			barriers = append(barriers, it.barrier)
		case !it.stop:
			events = append(events, it.ev)
		}
	}
	if n := l.dropped.Swap(0); n > 0 {
		events = append(events, Event{
			Type: TypeAuditDropped, Time: l.now().UTC().Round(0), Outcome: OutcomeFailure,
			Detail: map[string]string{DetailCount: strconv.FormatUint(n, 10)},
		})
	}

	records, err := l.commit(events, final)
	if err != nil {
		l.log.Error("audit records abandoned at shutdown", slog.Int("count", len(events)))
		l.met.dropped.Add(float64(len(events)))
	}
	var alerts []*store.Alert
	for i := range records {
		l.met.events.WithLabelValues(metricType(records[i].Type)).Inc()
		alerts = append(alerts, l.det.observe(&records[i])...)
	}
	if len(alerts) > 0 {
		l.raise(alerts)
	}
	for _, b := range barriers {
		close(b)
	}
}

// commit seals events onto the chain and stores them, with a checkpoint
// when CheckpointEvery records or CheckpointInterval have passed since the
// last one, or when final is set. It retries failed transactions until
// they succeed or Close gives up.
func (l *Log) commit(events []Event, final bool) ([]Record, error) {
	var records []Record
	err := l.retry(func() error {
		records = make([]Record, len(events))
		entries := make([]store.AuditEntry, len(events))
		seq, prev := l.seq, l.head
		for i, e := range events {
			seq++
			records[i] = Record{
				Seq: seq, Time: e.Time, Type: e.Type, ActorID: e.ActorID, TargetID: e.TargetID,
				Address: e.Address, Outcome: e.Outcome, Detail: e.Detail, PrevHash: prev,
			}
			v, err := records[i].seal()
			if err != nil {
				panic("audit: a sanitized event failed to encode: " + err.Error())
			}
			entries[i] = store.AuditEntry{Seq: seq, Value: v}
			prev = records[i].Hash
		}
		now := l.now()
		var cp *store.AuditEntry
		if unsigned := seq - l.cpSeq; unsigned > 0 && (final ||
			unsigned >= uint64(l.cfg.CheckpointEvery) ||
			now.Sub(l.cpTime) >= l.cfg.CheckpointInterval) {
			cp = checkpointEntry(l.key, seq, prev, now)
		}
		if len(entries) == 0 && cp == nil {
			return nil
		}
		if err := l.db.AppendAudit(entries, cp); err != nil {
			if errors.Is(err, store.ErrAuditSequence) {
				// Only this Log appends, so this means a second Log on
				// the same database; continue from what is stored.
				if lerr := l.loadHead(); lerr != nil {
					return errors.Join(err, lerr)
				}
			}
			return err
		}
		l.met.batchSize.Observe(float64(len(entries)))
		l.seq, l.head = seq, prev
		if cp != nil {
			l.cpSeq, l.cpTime = seq, now
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return records, nil
}

// retry runs fn until it succeeds, waiting 50ms after the first failure and
// doubling up to 5s, and stops when Close gives up.
func (l *Log) retry(fn func() error) error {
	wait := 50 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		l.met.writeErrors.Inc()
		l.log.Error("audit write failed; retrying", slog.String("err", err.Error()),
			slog.Duration("wait", wait))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-l.abort:
			t.Stop()
			return err
		}
		wait = min(2*wait, 5*time.Second)
	}
}
