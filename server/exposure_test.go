package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestServesWebApp checks that the server answers the web app's screens
// with its entry page and the security headers, while unknown API paths
// and other methods keep their JSON errors.
func TestServesWebApp(t *testing.T) {
	_, addr := startServer(t, nil)
	client := &http.Client{Timeout: 5 * time.Second}

	for _, path := range []string{"/", "/signin", "/consultations/ABC"} {
		resp, body := get(t, client, "http://"+addr+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: got status %d, want 200", path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: got Content-Type %q, want text/html; charset=utf-8", path, ct)
		}
		if !strings.Contains(strings.ToLower(body), "<html") {
			t.Errorf("GET %s: got body %.80q, want an HTML page", path, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: got CSP %q, want script-src 'self'", path, csp)
		}
		if xfo := resp.Header.Get("X-Frame-Options"); xfo != "DENY" {
			t.Errorf("GET %s: got X-Frame-Options %q, want DENY", path, xfo)
		}
	}

	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/api/v1/no-such-route", http.StatusNotFound, "not_found"},
		{http.MethodPost, "/signin", http.StatusNotFound, "not_found"},
		{http.MethodDelete, "/", http.StatusNotFound, "not_found"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, "http://"+addr+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &body)
		if resp.StatusCode != tt.status || body.Error.Code != tt.code {
			t.Errorf("%s %s: got %d %s, want %d %s", tt.method, tt.path, resp.StatusCode, raw, tt.status, tt.code)
		}
	}

	// A known API path with another method gets 405.
	resp, _ := get(t, client, "http://"+addr+"/api/v1/auth/login")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v1/auth/login: got %d, want 405", resp.StatusCode)
	}
}

// TestMetricsOnlyForLoopbackClients checks that /metrics on the main
// listener answers loopback clients only, because that listener faces the
// internet and the metrics count sign-ins, alerts and messages.
func TestMetricsOnlyForLoopbackClients(t *testing.T) {
	srv, _ := startServer(t, nil)
	tests := []struct {
		remote string
		status int
	}{
		{"127.0.0.1:40000", http.StatusOK},
		{"[::1]:40000", http.StatusOK},
		{"192.0.2.7:40000", http.StatusNotFound},
		{"[2001:db8::7]:40000", http.StatusNotFound},
		{"[::ffff:192.0.2.7]:40000", http.StatusNotFound},
	}
	for _, tt := range tests {
		// The request goes to the handler directly: no packet leaves the
		// machine, whatever address it claims to come from.
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = tt.remote
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("GET /metrics from %s: got %d, want %d", tt.remote, rec.Code, tt.status)
		}
		if tt.status == http.StatusOK && !strings.Contains(rec.Body.String(), "go_goroutines") {
			t.Errorf("GET /metrics from %s: got no metrics", tt.remote)
		}
		if tt.status != http.StatusOK && strings.Contains(rec.Body.String(), "bedside_") {
			t.Errorf("GET /metrics from %s: the body contains metrics", tt.remote)
		}
	}
}

// TestOpenDataDirWarns checks that the server warns about a data directory
// that other users may enter, and stays quiet about one with mode 0700.
func TestOpenDataDirWarns(t *testing.T) {
	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{{0o755, true}, {0o750, true}, {0o700, false}} {
		dir := t.TempDir()
		if err := os.Chmod(dir, tt.mode); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		cfg := DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.DataDir = dir
		cfg.Media = loopbackMedia()
		srv, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		srv.Close()
		if got := strings.Contains(logs.String(), "data directory is open to other users"); got != tt.warn {
			t.Errorf("mode %04o: got warning %v, want %v; log:\n%s", tt.mode, got, tt.warn, logs.String())
		}
	}
}
