package audit

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config sets the audit log's queue, checkpoints, detector thresholds and
// webhook. Zero fields take the defaults below; a negative detector
// threshold turns that detector off.
type Config struct {
	// QueueSize is the number of events buffered between Record and the
	// writer. Default 4096.
	QueueSize int
	// QueueWait is how long Record blocks on a full queue before it drops
	// the event and counts it. Default 100ms.
	QueueWait time.Duration
	// BatchSize is the largest number of events written in one bbolt
	// transaction. Default 1024, a quarter of the default queue, so a
	// backlog drains in a few commits.
	BatchSize int
	// CheckpointEvery is the number of records after which the next batch
	// ends with a signed checkpoint. Default 1000.
	CheckpointEvery int
	// CheckpointInterval is the longest time that new records stay without
	// a signed checkpoint. Default 5 minutes.
	CheckpointInterval time.Duration
	// MaxDetailValue is the longest detail value kept, in bytes. Default
	// DefaultMaxDetailValue.
	MaxDetailValue int

	// FailedLoginThreshold is the number of failed sign-ins (password or
	// second factor) within FailedLoginWindow that raises an alert, per
	// account and per address. Default 5.
	FailedLoginThreshold int
	// FailedLoginWindow is the sliding window of the failed-login
	// detectors. Default 5 minutes.
	FailedLoginWindow time.Duration
	// LoginAfterFailures is the number of failures within FailedLoginWindow
	// after which a successful sign-in on that account raises an alert.
	// Default 5.
	LoginAfterFailures int
	// DownloadBytesPerHour is the attachment volume one account may
	// download within any hour before an alert is raised. Default 256 MiB.
	DownloadBytesPerHour int64
	// ClinicHours is the daily opening time as "HH:MM-HH:MM" in
	// ClinicTimeZone, for example "07:00-19:00"; a range that ends before
	// it starts runs past midnight. Empty turns the clinic-hours detector
	// off.
	ClinicHours string
	// ClinicTimeZone is an IANA time zone name such as "Europe/Berlin".
	// Default UTC.
	ClinicTimeZone string
	// ClinicDays lists the opening days, as a range "Mon-Fri" or a list
	// "Mon,Wed,Fri". Default "Mon-Fri".
	ClinicDays string
	// OffHoursCooldown is the time after an off-hours alert during which
	// further off-hours access by the same account raises no new alert.
	// Default 1 hour.
	OffHoursCooldown time.Duration
	// MaxTrackedKeys bounds the accounts and addresses each detector keeps
	// state for; the least recently seen key is evicted first. Default
	// 10000.
	MaxTrackedKeys int

	// WebhookURL receives every alert as a signed JSON POST. It must be
	// https, except to a loopback address. Empty turns the webhook off.
	WebhookURL string
	// WebhookSecret is the HMAC-SHA256 key of the X-Bedside-Signature
	// header, at least 16 bytes. Required with WebhookURL.
	WebhookSecret string
	// WebhookTimeout bounds one delivery attempt. Default 10 seconds.
	WebhookTimeout time.Duration
	// WebhookMinBackoff is the wait after the first failed delivery; each
	// further failure doubles it up to WebhookMaxBackoff. Defaults 1
	// second and 5 minutes.
	WebhookMinBackoff time.Duration
	WebhookMaxBackoff time.Duration

	// Registerer receives the audit metrics; nil registers none.
	Registerer prometheus.Registerer
}

// LogValue keeps the webhook secret out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("queue_size", c.QueueSize),
		slog.Int("checkpoint_every", c.CheckpointEvery),
		slog.Duration("checkpoint_interval", c.CheckpointInterval),
		slog.String("clinic_hours", c.ClinicHours),
		slog.String("clinic_time_zone", c.ClinicTimeZone),
		slog.String("clinic_days", c.ClinicDays),
		slog.Bool("webhook", c.WebhookURL != ""),
	)
}

func (c *Config) setDefaults() {
	setDefault(&c.QueueSize, 4096)
	setDefault(&c.QueueWait, 100*time.Millisecond)
	setDefault(&c.BatchSize, 1024)
	setDefault(&c.CheckpointEvery, 1000)
	setDefault(&c.CheckpointInterval, 5*time.Minute)
	setDefault(&c.MaxDetailValue, DefaultMaxDetailValue)
	setDefault(&c.FailedLoginThreshold, 5)
	setDefault(&c.FailedLoginWindow, 5*time.Minute)
	setDefault(&c.LoginAfterFailures, 5)
	setDefault(&c.DownloadBytesPerHour, 256<<20)
	setDefault(&c.ClinicTimeZone, "UTC")
	setDefault(&c.ClinicDays, "Mon-Fri")
	setDefault(&c.OffHoursCooldown, time.Hour)
	setDefault(&c.MaxTrackedKeys, 10000)
	setDefault(&c.WebhookTimeout, 10*time.Second)
	setDefault(&c.WebhookMinBackoff, time.Second)
	setDefault(&c.WebhookMaxBackoff, 5*time.Minute)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func (c *Config) validate() error {
	for name, v := range map[string]int64{
		"QueueSize":          int64(c.QueueSize),
		"BatchSize":          int64(c.BatchSize),
		"CheckpointEvery":    int64(c.CheckpointEvery),
		"MaxDetailValue":     int64(c.MaxDetailValue),
		"MaxTrackedKeys":     int64(c.MaxTrackedKeys),
		"QueueWait":          int64(c.QueueWait),
		"CheckpointInterval": int64(c.CheckpointInterval),
		"FailedLoginWindow":  int64(c.FailedLoginWindow),
		"OffHoursCooldown":   int64(c.OffHoursCooldown),
		"WebhookTimeout":     int64(c.WebhookTimeout),
		"WebhookMinBackoff":  int64(c.WebhookMinBackoff),
		"WebhookMaxBackoff":  int64(c.WebhookMaxBackoff),
	} {
		if v < 0 {
			return fmt.Errorf("%w: %s is negative; use a positive value or 0 for the default",
				ErrInvalidConfig, name)
		}
	}
	if c.MaxDetailValue > 1024 {
		return fmt.Errorf("%w: MaxDetailValue %d exceeds 1024 bytes", ErrInvalidConfig, c.MaxDetailValue)
	}
	if c.WebhookMaxBackoff < c.WebhookMinBackoff {
		return fmt.Errorf("%w: WebhookMaxBackoff %s is below WebhookMinBackoff %s",
			ErrInvalidConfig, c.WebhookMaxBackoff, c.WebhookMinBackoff)
	}
	return validateWebhook(c.WebhookURL, c.WebhookSecret)
}

// validateWebhook requires https, or http to a loopback address, and a
// secret of at least 16 bytes.
func validateWebhook(raw, secret string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: WebhookURL %q is not an absolute URL", ErrInvalidConfig, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w: WebhookURL must not carry credentials; the signature authenticates",
			ErrInvalidConfig)
	}
	switch u.Scheme {
	case "https":
	case "http":
		ip := net.ParseIP(u.Hostname())
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%w: WebhookURL must use https unless it is a loopback address",
				ErrInvalidConfig)
		}
	default:
		return fmt.Errorf("%w: WebhookURL scheme %q: use https", ErrInvalidConfig, u.Scheme)
	}
	if len(secret) < 16 {
		return fmt.Errorf("%w: WebhookSecret must be at least 16 bytes, got %d",
			ErrInvalidConfig, len(secret))
	}
	return nil
}

// clinicHours decides whether a time falls within the clinic's opening
// hours. The zero value (nil pointer) means the detector is off.
type clinicHours struct {
	start, end int // minutes after local midnight; end < start runs past midnight
	days       [7]bool
	loc        *time.Location
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseClinicHours parses Config.ClinicHours, ClinicDays and
// ClinicTimeZone. An empty hours string returns nil.
func parseClinicHours(hours, days, zone string) (*clinicHours, error) {
	if hours == "" {
		return nil, nil
	}
	var c clinicHours
	from, to, ok := strings.Cut(hours, "-")
	var err1, err2 error
	c.start, err1 = parseClock(from)
	c.end, err2 = parseClock(to)
	if !ok || err1 != nil || err2 != nil || c.start == c.end {
		return nil, fmt.Errorf("%w: ClinicHours %q: use HH:MM-HH:MM, for example 07:00-19:00",
			ErrInvalidConfig, hours)
	}
	if err := c.parseDays(days); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("%w: ClinicTimeZone %q: %v", ErrInvalidConfig, zone, err)
	}
	c.loc = loc
	return &c, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		// "24:00" is the usual way to write the end of the day.
		if strings.TrimSpace(s) == "24:00" {
			return 24 * 60, nil
		}
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

func (c *clinicHours) parseDays(s string) error {
	bad := fmt.Errorf("%w: ClinicDays %q: use a range such as Mon-Fri or a list such as Mon,Wed,Fri",
		ErrInvalidConfig, s)
	for part := range strings.SplitSeq(strings.ToLower(s), ",") {
		from, to, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, ok1 := weekdays[from]
		last, ok2 := first, true
		if isRange {
			last, ok2 = weekdays[to]
		}
		if !ok1 || !ok2 {
			return bad
		}
		for d := first; ; d = (d + 1) % 7 {
			c.days[d] = true
			if d == last {
				break
			}
		}
	}
	return nil
}

// open reports whether t falls within opening hours. For a range that runs
// past midnight, the early hours belong to the previous day's opening.
func (c *clinicHours) open(t time.Time) bool {
	lt := t.In(c.loc)
	m := lt.Hour()*60 + lt.Minute()
	day := lt.Weekday()
	if c.start < c.end {
		return c.days[day] && m >= c.start && m < c.end
	}
	if m >= c.start {
		return c.days[day]
	}
	return m < c.end && c.days[(day+6)%7]
}
