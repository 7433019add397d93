package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	cert := filepath.Join(t.TempDir(), "cert.pem")
	os.WriteFile(cert, []byte("x"), 0o600)
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // empty means valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"ipv6 loopback", func(c *Config) { c.Addr = "[::1]:0" }, ""},
		{"localhost", func(c *Config) { c.Addr = "localhost:8080" }, ""},
		{"missing port", func(c *Config) { c.Addr = "127.0.0.1" }, "invalid --addr"},
		{"bad port", func(c *Config) { c.Addr = "127.0.0.1:http80" }, "port must be a number"},
		{"port out of range", func(c *Config) { c.Addr = "127.0.0.1:70000" }, "port must be a number"},
		{"all interfaces over http", func(c *Config) { c.Addr = ":8080" }, "refusing plain HTTP"},
		{"public address over http", func(c *Config) { c.Addr = "203.0.113.5:8080" }, "refusing plain HTTP"},
		{"public address behind proxy", func(c *Config) { c.Addr = "0.0.0.0:8080"; c.InsecureHTTP = true }, ""},
		{"public address with dev tls", func(c *Config) { c.Addr = "0.0.0.0:8443"; c.DevTLS = true }, ""},
		{"cert without key", func(c *Config) { c.TLSCert = cert }, "must be given together"},
		{"unreadable cert", func(c *Config) { c.TLSCert = "/nonexistent/c.pem"; c.TLSKey = cert }, "invalid --tls-cert"},
		{"dev tls and cert", func(c *Config) { c.TLSCert, c.TLSKey, c.DevTLS = cert, cert, true }, "cannot be combined"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "invalid --log-level"},
		{"bad metrics addr", func(c *Config) { c.MetricsAddr = "nope" }, "invalid --metrics-addr"},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "invalid --data-dir"},
		{"zero shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "invalid --shutdown-timeout"},
		{"huge shutdown", func(c *Config) { c.ShutdownTimeout = time.Hour }, "invalid --shutdown-timeout"},
		{"tiny body limit", func(c *Config) { c.MaxBodyBytes = 10 }, "invalid --max-body-bytes"},
		{"answer timeout below resume grace", func(c *Config) { c.Media.AnswerTimeout = 10 * time.Second },
			"must be at least the signaling ResumeGrace 15s"},
		{"resume grace above answer timeout", func(c *Config) { c.Signaling.ResumeGrace = 20 * time.Second },
			"invalid media AnswerTimeout 15s"},
		{"answer timeout equal to resume grace", func(c *Config) {
			c.Media.AnswerTimeout = 20 * time.Second
			c.Signaling.ResumeGrace = 20 * time.Second
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("got valid, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("got %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
