package signaling

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/audit"
)

// Config configures a Hub. Authenticator, Rooms and Media are required; every
// other zero field takes the default named in its comment.
type Config struct {
	Authenticator Authenticator
	Rooms         Rooms
	Media         Media

	Audit      audit.Recorder        // nil: audit.Discard
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: no metrics registered

	// AllowedOrigins lists the origins, such as "https://clinic.example",
	// whose pages may open the WebSocket. Empty: only an Origin whose host
	// equals the request's Host. A request without Origin (not a browser) is
	// accepted either way, because it cannot carry a victim's credentials.
	AllowedOrigins []string

	// ICEServers are STUN servers (or TURN servers with static
	// credentials) sent to admitted participants besides the per-participant
	// credentials from Media.TURNCredentials.
	ICEServers []ICEServer

	AuthTimeout  time.Duration // maximum wait for the auth message; default 5s
	ReadLimit    int64         // maximum inbound message size in bytes; default 64 KiB
	WriteTimeout time.Duration // deadline of every write; default 10s
	PingInterval time.Duration // time between WebSocket pings; default 20s
	PongTimeout  time.Duration // maximum silence, pongs included, before a disconnect; default 45s
	CloseTimeout time.Duration // maximum wait for the client's close reply; default 1s
	ResumeGrace  time.Duration // how long a dropped participant may resume; default DefaultResumeGrace

	// QueueSize is the number of outbound messages queued per connection;
	// default 64. Unless MessageRate is rate.Inf, it must be at least
	// MessageBurst + ErrorLimit + 1, so the replies to a full burst and the
	// error replies up to the close fit even while the client reads
	// nothing. The rest is room for server events.
	QueueSize int

	MessageRate  rate.Limit // sustained inbound messages per second; default 20
	MessageBurst int        // inbound burst size; default 40
	// ErrorLimit is how many error replies (invalid or rate-limited
	// messages) within ErrorWindow close the connection; default 10 in 10s.
	ErrorLimit  int
	ErrorWindow time.Duration

	// SessionCheck is the time between re-checks of each connection's
	// session through Authenticator; default 60s. Each wait is drawn at
	// random between half of it and all of it, so connections opened
	// together spread their checks. A session that expired or was revoked
	// closes its connections within SessionCheck, and each check refreshes
	// the session's idle timer as a request would.
	SessionCheck time.Duration

	// MaxUserConnections bounds the authenticated connections of one user;
	// default 20. One more is closed with CloseTooManyConnections.
	MaxUserConnections int

	// JoinRate and JoinBurst limit the join messages of one connection, each
	// of which the audit log records; default 10 per minute in bursts of 5.
	// A join beyond the limit gets the error too-many-joins.
	JoinRate  rate.Limit
	JoinBurst int

	// Now returns the current time for appointment window checks; nil:
	// time.Now.
	Now func() time.Time
}

// DefaultResumeGrace is the default of Config.ResumeGrace.
const DefaultResumeGrace = 15 * time.Second

func (c Config) withDefaults() (Config, error) {
	if c.Authenticator == nil || c.Rooms == nil || c.Media == nil {
		return c, fmt.Errorf("%w: Authenticator, Rooms and Media are required", ErrInvalidConfig)
	}
	if c.Audit == nil {
		c.Audit = audit.Discard{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	setDefault(&c.AuthTimeout, 5*time.Second)
	setDefault(&c.ReadLimit, 64<<10)
	setDefault(&c.WriteTimeout, 10*time.Second)
	setDefault(&c.PingInterval, 20*time.Second)
	setDefault(&c.PongTimeout, 45*time.Second)
	setDefault(&c.CloseTimeout, time.Second)
	setDefault(&c.QueueSize, 64)
	setDefault(&c.ResumeGrace, DefaultResumeGrace)
	setDefault(&c.MessageRate, 20)
	setDefault(&c.MessageBurst, 40)
	setDefault(&c.ErrorLimit, 10)
	setDefault(&c.ErrorWindow, 10*time.Second)
	setDefault(&c.SessionCheck, time.Minute)
	setDefault(&c.MaxUserConnections, 20)
	setDefault(&c.JoinRate, rate.Every(6*time.Second))
	setDefault(&c.JoinBurst, 5)
	return c, c.validate()
}

// validate checks the relations between the fields of a Config whose
// defaults are set.
func (c Config) validate() error {
	if c.PongTimeout <= c.PingInterval {
		return fmt.Errorf("%w: PongTimeout %v must exceed PingInterval %v",
			ErrInvalidConfig, c.PongTimeout, c.PingInterval)
	}
	// Without a rate limit (rate.Inf) there is no burst to fit.
	if minQueue := c.MessageBurst + c.ErrorLimit + 1; c.MessageRate != rate.Inf && c.QueueSize < minQueue {
		return fmt.Errorf("%w: QueueSize %d is below MessageBurst + ErrorLimit + 1 = %d: "+
			"a client's full burst would close it as a slow consumer; raise QueueSize or lower MessageBurst",
			ErrInvalidConfig, c.QueueSize, minQueue)
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"AuthTimeout", c.AuthTimeout}, {"WriteTimeout", c.WriteTimeout}, {"PingInterval", c.PingInterval},
		{"CloseTimeout", c.CloseTimeout}, {"ResumeGrace", c.ResumeGrace}, {"ErrorWindow", c.ErrorWindow},
		{"SessionCheck", c.SessionCheck},
	} {
		if d.value < 0 {
			return fmt.Errorf("%w: %s %v is negative", ErrInvalidConfig, d.name, d.value)
		}
	}
	for _, n := range []struct {
		name  string
		value int
	}{
		{"QueueSize", c.QueueSize}, {"MessageBurst", c.MessageBurst}, {"ErrorLimit", c.ErrorLimit},
		{"MaxUserConnections", c.MaxUserConnections}, {"JoinBurst", c.JoinBurst},
	} {
		if n.value < 0 {
			return fmt.Errorf("%w: %s %d is negative", ErrInvalidConfig, n.name, n.value)
		}
	}
	for _, o := range c.AllowedOrigins {
		if _, err := parseOrigin(o); err != nil {
			return fmt.Errorf("%w: AllowedOrigins: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// parseOrigin returns o in the canonical form scheme://host[:port], lower
// case, or an error when o is not such an origin.
func parseOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("invalid origin %q: use scheme://host[:port]", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
