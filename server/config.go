package server

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/auth"
	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/messaging"
	"github.com/bedside-health/bedside/sfu"
	"github.com/bedside-health/bedside/signaling"
)

// Config is everything the server needs to start. Validate reports the first
// invalid field with the value and the fix.
type Config struct {
	// Addr is the host:port of the HTTP(S) listener.
	Addr string
	// DataDir holds the database, the server key and the control socket.
	DataDir string
	// KeyFile is the server key's path; empty means DataDir/server.key.
	KeyFile string
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert, TLSKey string
	// DevTLS generates a self-signed certificate in DataDir for local tests.
	DevTLS bool
	// InsecureHTTP allows plain HTTP on a non-loopback address, for use
	// behind a TLS-terminating proxy.
	InsecureHTTP bool
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// MetricsAddr, when set, serves /metrics on its own listener instead of
	// the main one, where /metrics answers loopback clients only.
	MetricsAddr string
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration
	// MaxBodyBytes caps every request body.
	MaxBodyBytes int64
	// AllowedOrigins lists extra origins allowed to open the WebSocket; the
	// server's own origin is always allowed.
	AllowedOrigins []string
	// Now is the clock of every service: session expiry, appointment
	// windows, audit times. Nil means time.Now; tests replace it to move
	// time forward.
	Now func() time.Time

	// Settings of the domain services. Their loggers, metrics registries
	// and collaborators are filled in by the server.
	Auth      auth.Config
	Clinic    clinic.Config
	Audit     audit.Config
	Messaging messaging.Config
	Media     sfu.Config
	Signaling signaling.Config
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         "./data",
		LogLevel:        "info",
		ShutdownTimeout: 10 * time.Second,
		MaxBodyBytes:    2 << 20,
		Auth:            auth.DefaultConfig(),
		Clinic:          clinic.Config{JoinBefore: 15 * time.Minute, JoinGrace: 30 * time.Minute},
		Audit:           audit.Config{FailedLoginThreshold: 5, DownloadBytesPerHour: 256 << 20},
		Media:           sfu.Config{UDPPort: sfu.DefaultUDPPort},
	}
}

// TLSEnabled reports whether the main listener serves HTTPS.
func (c Config) TLSEnabled() bool { return c.TLSCert != "" || c.DevTLS }

// Validate checks every field without touching the file system beyond
// reading the certificate files' metadata.
func (c Config) Validate() error {
	host, err := validateAddr("addr", c.Addr)
	if err != nil {
		return err
	}
	if c.MetricsAddr != "" {
		if _, err := validateAddr("metrics-addr", c.MetricsAddr); err != nil {
			return err
		}
	}
	if c.DataDir == "" {
		return errors.New("invalid --data-dir: empty; give a directory such as ./data")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key must be given together")
	}
	if c.TLSCert != "" && c.DevTLS {
		return errors.New("--dev-tls cannot be combined with --tls-cert: choose one")
	}
	for _, f := range []struct{ flag, path string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("invalid --%s %q: %v; give a readable PEM file", f.flag, f.path, err)
		}
	}
	if !c.TLSEnabled() && !c.InsecureHTTP && !isLoopbackHost(host) {
		return fmt.Errorf("refusing plain HTTP on non-loopback address %q: "+
			"give --tls-cert and --tls-key, use --dev-tls for testing, or "+
			"--insecure-http behind a TLS-terminating proxy", c.Addr)
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return err
	}
	if c.ShutdownTimeout <= 0 || c.ShutdownTimeout > 5*time.Minute {
		return fmt.Errorf("invalid --shutdown-timeout %s: use a duration between 1s and 5m", c.ShutdownTimeout)
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("invalid --max-body-bytes %d: use at least 1024", c.MaxBodyBytes)
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	// The SFU keeps a disconnected participant's peer for the resume grace
	// period, so an SFU offer sent meanwhile must not time out before that
	// period ends.
	answerTimeout := cmp.Or(c.Media.AnswerTimeout, sfu.DefaultAnswerTimeout)
	resumeGrace := cmp.Or(c.Signaling.ResumeGrace, signaling.DefaultResumeGrace)
	if answerTimeout < resumeGrace {
		return fmt.Errorf("invalid media AnswerTimeout %s: it must be at least the signaling ResumeGrace %s, "+
			"or the SFU drops the media peer of a reconnecting participant whose offer went unanswered "+
			"before the participant can resume; raise AnswerTimeout or lower ResumeGrace",
			answerTimeout, resumeGrace)
	}
	if chunk := c.Messaging.MaxChunkBytes; chunk > c.MaxBodyBytes {
		return fmt.Errorf("invalid --max-body-bytes %d: attachment chunks of up to %d bytes need at least that much",
			c.MaxBodyBytes, chunk)
	}
	return nil
}

func validateAddr(flag, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("invalid --%s %q: %v; use host:port such as 127.0.0.1:8080", flag, addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("invalid --%s %q: port must be a number from 0 to 65535", flag, addr)
	}
	return host, nil
}

// isLoopbackHost reports whether host names only loopback addresses. An
// empty host means every interface and is not loopback.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// ParseLogLevel converts debug, info, warn or error to a slog.Level.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}
