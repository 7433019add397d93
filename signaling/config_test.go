package signaling

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bedside-health/bedside/policy"
)

func TestNewRejectsConfig(t *testing.T) {
	ports := Config{Authenticator: &fakeAuth{}, Rooms: &fakeRooms{}, Media: &fakeMedia{}}
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no authenticator", func(c *Config) { c.Authenticator = nil }},
		{"no rooms", func(c *Config) { c.Rooms = nil }},
		{"no media", func(c *Config) { c.Media = nil }},
		{"origin without scheme", func(c *Config) { c.AllowedOrigins = []string{"clinic.example"} }},
		{"origin with path", func(c *Config) { c.AllowedOrigins = []string{"https://clinic.example/app"} }},
		{"pong timeout below ping interval", func(c *Config) {
			c.PingInterval = time.Minute
			c.PongTimeout = time.Second
		}},
		{"queue below the default burst", func(c *Config) { c.QueueSize = 32 }},
		{"queue below burst and error limit", func(c *Config) {
			c.QueueSize = 20
			c.MessageBurst = 10
			c.ErrorLimit = 10
		}},
		{"negative session check", func(c *Config) { c.SessionCheck = -time.Second }},
		{"negative connection limit", func(c *Config) { c.MaxUserConnections = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ports
			tt.change(&cfg)
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("got %v, want ErrInvalidConfig", err)
			}
		})
	}

	t.Run("metrics registered twice", func(t *testing.T) {
		cfg := ports
		cfg.Registerer = prometheus.NewRegistry()
		if _, err := New(cfg); err != nil {
			t.Fatalf("first New: %v", err)
		}
		if _, err := New(cfg); err == nil {
			t.Error("second New on the same registry: got nil error, want a registration error")
		}
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestNoSecretsInLogs(t *testing.T) {
	checkLeaks(t)
	var logs syncBuffer
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.ResumeGrace = 50 * time.Millisecond
	})
	e.rooms.add("c1", []string{"doc"}, "pat")
	doc := e.connect("doc", policy.RoleClinician)
	hostJoined := doc.join("c1")

	// A rejected token, a malformed auth and a normal session.
	bad := e.open()
	bad.sendRaw(`{"type":"auth","token":"rejected-token-secret"}`)
	bad.expectClose(CloseAuthFailed)
	malformed := e.open()
	malformed.sendRaw(`{"type":"auth","token":"malformed-token-secret","extra":1}`)
	malformed.expectClose(CloseAuthFailed)

	pat := e.connect("pat", policy.RolePatient)
	j := pat.join("c1")
	doc.send(AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: j.Participant})
	pat.expect(TypeAdmitted, nil)
	pat.send(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0 sdp-content-secret"})
	pat.expect(TypeAnswer, nil)
	pat.send(CandidateMessage{Header: Header{Type: TypeCandidate}, Candidate: webrtc.ICECandidateInit{Candidate: "candidate:content-secret"}})
	e.hub.NotifyMessage([]string{"pat"}, "conversation-1", "message-1")
	pat.send(LeaveMessage{Header: Header{Type: TypeLeave, ID: "bye"}})
	pat.waitFor(TypeOK, nil, TypeMessage)

	secrets := []string{
		"rejected-token-secret", "malformed-token-secret",
		e.auth.add("pat", policy.RolePatient, "pat-session"),
		"sdp-content-secret", "candidate:content-secret",
		hostJoined.Resume, j.Resume, hostJoined.TURN.Credential,
	}
	text := logs.String()
	if !strings.Contains(text, "participant joined") {
		t.Fatalf("got logs %q, want lifecycle lines", text)
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("logs contain %q", s)
		}
		for _, ev := range e.audit.all() {
			for k, v := range ev.Detail {
				if strings.Contains(v, s) {
					t.Errorf("audit event %s detail %s contains %q", ev.Type, k, s)
				}
			}
		}
	}
}
