package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bedside-health/bedside/store"
)

// Webhook protocol (docs/audit.md, "Webhook"): each alert is POSTed as
// JSON with the header
//
//	X-Bedside-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." || body)>
//
// Delivery is at least once: receivers deduplicate by the alert id, which
// is also sent as X-Bedside-Alert-Id.
const (
	SignatureHeader = "X-Bedside-Signature"
	AlertIDHeader   = "X-Bedside-Alert-Id"
	// maxSignatureHeader bounds the header VerifyWebhookSignature parses.
	maxSignatureHeader = 1024
	// webhookBatch is the most pending alerts loaded per delivery round.
	webhookBatch = 64
)

// WebhookPayload is the JSON body of a webhook delivery.
type WebhookPayload struct {
	Kind  string `json:"kind"` // always "bedside.alert"
	Alert Alert  `json:"alert"`
}

// SignWebhook returns the X-Bedside-Signature value for body sent at t.
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhookSignature checks a X-Bedside-Signature header against body
// for receivers: one of its v1 values must be the HMAC of "t.body" under
// secret, compared in constant time, and t must lie within tolerance of
// now. Errors wrap ErrBadSignature.
func VerifyWebhookSignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(header) > maxSignatureHeader {
		return fmt.Errorf("%w: header longer than %d bytes", ErrBadSignature, maxSignatureHeader)
	}
	var ts string
	var macs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return fmt.Errorf("%w: field %q is not key=value", ErrBadSignature, part)
		case k == "t" && ts == "":
			ts = v
		case k == "t":
			return fmt.Errorf("%w: repeated t field", ErrBadSignature)
		case k == "v1":
			mac, err := hex.DecodeString(v)
			if err != nil || len(mac) != sha256.Size {
				return fmt.Errorf("%w: v1 must be %d hex digits", ErrBadSignature, 2*sha256.Size)
			}
			macs = append(macs, mac)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(macs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp is %s away from now, tolerance %s", ErrBadSignature, d, tolerance)
	}
	want := webhookMAC(secret, ts, body)
	for _, mac := range macs {
		if hmac.Equal(mac, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 value matches the body", ErrBadSignature)
}

// webhook delivers stored alerts to Config.WebhookURL from one goroutine.
// The queue is the database: alerts stay pending there until the receiver
// responds with 2xx, so a restart or a long outage loses none. Retry times
// live in memory and start over after a restart.
type webhook struct {
	url    string
	secret []byte
	client *http.Client
	db     *store.DB
	log    *slog.Logger
	met    *metrics
	minB   time.Duration
	maxB   time.Duration

	wakeup chan struct{}
	// attempts and next are the retry state of pending alerts. Only the
	// run goroutine uses them, and each round prunes them to the alerts
	// still pending, at most webhookBatch.
	attempts map[uint64]int
	next     map[uint64]time.Time
}

func newWebhook(cfg *Config, deps Deps, met *metrics) *webhook {
	client := &http.Client{Timeout: cfg.WebhookTimeout}
	if deps.HTTPClient != nil {
		c := *deps.HTTPClient
		client = &c
	}
	// A redirect could carry alerts to another host: treat it as a failure.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &webhook{
		url:      cfg.WebhookURL,
		secret:   []byte(cfg.WebhookSecret),
		client:   client,
		db:       deps.DB,
		log:      deps.Logger,
		met:      met,
		minB:     cfg.WebhookMinBackoff,
		maxB:     cfg.WebhookMaxBackoff,
		wakeup:   make(chan struct{}, 1),
		attempts: make(map[uint64]int),
		next:     make(map[uint64]time.Time),
	}
}

// wake signals the sender to look for pending alerts, without blocking.
func (w *webhook) wake() {
	select {
	case w.wakeup <- struct{}{}:
	default:
	}
}

func (w *webhook) run(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		wait := w.deliverDue(ctx)
		t := time.NewTimer(wait)
		select {
		case <-w.wakeup:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// deliverDue posts every pending alert whose retry time has come and
// returns how long to wait before the next retry is due.
func (w *webhook) deliverDue(ctx context.Context) time.Duration {
	const idle = time.Hour
	pending, err := w.db.PendingWebhookAlerts(webhookBatch)
	if err != nil {
		w.log.Error("read pending webhook alerts", slog.String("err", err.Error()))
		return w.maxB
	}
	keep := make(map[uint64]bool, len(pending))
	wait := idle
	for _, a := range pending {
		keep[a.ID] = true
		now := time.Now()
		if due := w.next[a.ID]; due.After(now) {
			wait = min(wait, due.Sub(now))
			continue
		}
		if ctx.Err() != nil {
			return 0
		}
		if err := w.post(ctx, alertFromStore(a)); err != nil {
			w.met.failures.Inc()
			n := w.attempts[a.ID] + 1
			backoff := w.backoff(n)
			w.attempts[a.ID], w.next[a.ID] = n, time.Now().Add(backoff)
			wait = min(wait, backoff)
			w.log.Warn("webhook delivery failed; retrying",
				slog.Uint64("alert_id", a.ID), slog.Int("attempt", n),
				slog.Duration("retry_in", backoff), slog.String("err", err.Error()))
			continue
		}
		w.met.deliveries.Inc()
		delete(w.attempts, a.ID)
		delete(w.next, a.ID)
		if err := w.db.MarkAlertDelivered(a.ID, time.Now()); err != nil {
			w.log.Error("mark alert delivered", slog.Uint64("alert_id", a.ID),
				slog.String("err", err.Error()))
		}
	}
	for id := range w.next {
		if !keep[id] {
			delete(w.next, id)
			delete(w.attempts, id)
		}
	}
	if len(pending) == webhookBatch && wait == idle {
		wait = 0 // more pending alerts than one round loads
	}
	return wait
}

// backoff is WebhookMinBackoff doubled per failed attempt, capped at
// WebhookMaxBackoff.
func (w *webhook) backoff(attempt int) time.Duration {
	d := w.minB
	for i := 1; i < attempt && d < w.maxB; i++ {
		d *= 2
	}
	return min(d, w.maxB)
}

func (w *webhook) post(ctx context.Context, a Alert) error {
	body, err := json.Marshal(WebhookPayload{Kind: "bedside.alert", Alert: a})
	if err != nil {
		return fmt.Errorf("encode webhook body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bedside-audit-webhook/1")
	req.Header.Set(AlertIDHeader, a.ID)
	req.Header.Set(SignatureHeader, SignWebhook(w.secret, time.Now(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		// The *url.Error text repeats the URL, which may embed a token
		// of the receiver: keep only the cause.
		if ue, ok := err.(*url.Error); ok {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver responded %s", resp.Status)
	}
	return nil
}
