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
	QueueSize    int           // outbound messages queued per connection; default 32
	ResumeGrace  time.Duration // how long a dropped participant may resume; default 15s

	MessageRate  rate.Limit // sustained inbound messages per second; default 20
	MessageBurst int        // inbound burst size; default 40
	// ErrorLimit is how many error replies (invalid or rate-limited
	// messages) within ErrorWindow close the connection; default 10 in 10s.
	ErrorLimit  int
	ErrorWindow time.Duration

	// Now returns the current time for appointment window checks; nil:
	// time.Now.
	Now func() time.Time
}

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
	setDefault(&c.QueueSize, 32)
	setDefault(&c.ResumeGrace, 15*time.Second)
	setDefault(&c.MessageRate, 20)
	setDefault(&c.MessageBurst, 40)
	setDefault(&c.ErrorLimit, 10)
	setDefault(&c.ErrorWindow, 10*time.Second)

	if c.PongTimeout <= c.PingInterval {
		return c, fmt.Errorf("%w: PongTimeout %v must exceed PingInterval %v",
			ErrInvalidConfig, c.PongTimeout, c.PingInterval)
	}
	for _, o := range c.AllowedOrigins {
		if _, err := parseOrigin(o); err != nil {
			return c, fmt.Errorf("%w: AllowedOrigins: %w", ErrInvalidConfig, err)
		}
	}
	return c, nil
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
