package audit

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/bedside-health/bedside/store"
)

// Severity ranks an alert.
type Severity string

// Alert severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Alert types, one per detector (docs/audit.md, "Detectors").
const (
	AlertFailedLoginsAccount = "failed_logins.account"
	AlertFailedLoginsAddress = "failed_logins.address"
	AlertLoginAfterFailures  = "login_after_failures"
	AlertDownloadVolume      = "download_volume"
	AlertOffHours            = "off_hours_access"
	AlertStaffDevice         = "staff_device"
	AlertRoleChange          = "role_change"
	AlertAuditExport         = "audit_export"
	AlertAuditDropped        = "audit_dropped"
	AlertAuditIntegrity      = "audit_integrity"
)

// Alert is a stored security alert as administrators and the webhook see
// it. Subject is the account the alert is about, Target the resource,
// EventSeq the audit record that raised it.
type Alert struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	Severity  Severity          `json:"severity"`
	Time      time.Time         `json:"time"`
	Subject   string            `json:"subject,omitempty"`
	Target    string            `json:"target,omitempty"`
	Address   string            `json:"address,omitempty"`
	EventSeq  uint64            `json:"event_seq,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	AckedBy   string            `json:"acked_by,omitempty"`
	AckedAt   time.Time         `json:"acked_at,omitzero"`
	Delivered bool              `json:"webhook_delivered,omitempty"`
}

func alertFromStore(a store.Alert) Alert {
	return Alert{
		ID:        strconv.FormatUint(a.ID, 10),
		Type:      a.Type,
		Severity:  Severity(a.Severity),
		Time:      a.Time.UTC(),
		Subject:   a.Subject,
		Target:    a.Target,
		Address:   a.Address,
		EventSeq:  a.EventSeq,
		Detail:    a.Detail,
		AckedBy:   a.AckedBy,
		AckedAt:   a.AckedAt,
		Delivered: a.Delivered,
	}
}

// notifyQueue bounds the alerts waiting for Notifier.NotifyAdmins.
const notifyQueue = 256

// alerter hands stored alerts to the Notifier and the webhook sender, each
// in its own goroutine, so neither a slow hub nor a slow receiver holds up
// the writer.
type alerter struct {
	log      *slog.Logger
	met      *metrics
	notifier Notifier
	notify   chan Alert
	hook     *webhook // nil without Config.WebhookURL

	stop chan struct{}
	wg   sync.WaitGroup
}

func newAlerter(cfg *Config, deps Deps, met *metrics) *alerter {
	a := &alerter{
		log:      deps.Logger,
		met:      met,
		notifier: deps.Notifier,
		notify:   make(chan Alert, notifyQueue),
		stop:     make(chan struct{}),
	}
	if a.notifier != nil {
		a.wg.Go(a.runNotifier)
	}
	if cfg.WebhookURL != "" {
		a.hook = newWebhook(cfg, deps, met)
		a.wg.Go(func() { a.hook.run(a.stop) })
	}
	return a
}

func (a *alerter) runNotifier() {
	for {
		select {
		case al := <-a.notify:
			a.notifier.NotifyAdmins(al)
		case <-a.stop:
			return
		}
	}
}

// publish queues al for the Notifier without blocking.
func (a *alerter) publish(al Alert) {
	if a.notifier == nil {
		return
	}
	select {
	case a.notify <- al:
	default:
		a.met.notifyDropped.Inc()
		a.log.Warn("alert push queue full; alert stays stored", slog.String("alert_id", al.ID))
	}
}

func (a *alerter) close() {
	close(a.stop)
	a.wg.Wait()
}

// raise stores alerts, counts and logs them, and hands them to the
// Notifier and the webhook. It runs on the writer goroutine.
func (l *Log) raise(alerts []*store.Alert) {
	err := l.retry(func() error { return l.db.InsertAlerts(alerts, l.alert.hook != nil) })
	if err != nil {
		l.log.Error("alerts abandoned at shutdown", slog.Int("count", len(alerts)))
		return
	}
	for _, st := range alerts {
		a := alertFromStore(*st)
		l.met.alerts.WithLabelValues(a.Type, string(a.Severity)).Inc()
		l.log.Warn("security alert",
			slog.String("alert_id", a.ID),
			slog.String("type", a.Type),
			slog.String("severity", string(a.Severity)),
			slog.String("subject", a.Subject),
			slog.Uint64("event_seq", a.EventSeq))
		l.alert.publish(a)
	}
	if l.alert.hook != nil {
		l.alert.hook.wake()
	}
}
