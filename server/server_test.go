package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bedside-health/bedside/sfu"
	"github.com/bedside-health/bedside/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// loopbackMedia keeps the SFU's sockets on loopback with a free port.
func loopbackMedia() sfu.Config {
	return sfu.Config{UDPPort: 0, AllowLoopback: true, Interfaces: []string{"lo"}}
}

// startServer runs a server on a free loopback port and stops it when the
// test ends.
func startServer(t *testing.T, change func(*Config)) (*Server, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Media = loopbackMedia()
	if change != nil {
		change(&cfg)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start within 10s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop within 15s")
		}
		srv.Close()
	})
	return srv, addr.String()
}

func get(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestHealthAndMetrics(t *testing.T) {
	_, addr := startServer(t, nil)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, _ := get(t, client, "http://"+addr+path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: got status %d, want 200", path, resp.StatusCode)
		}
	}
	resp, body := get(t, client, "http://"+addr+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: got status %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{"go_goroutines", `bedside_http_requests_total{code="200",route="GET /healthz"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	_, addr := startServer(t, nil)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/no/such/route"} {
		resp, _ := get(t, client, "http://"+addr+path)
		want := map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s: got %q, want %q", path, k, got, v)
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s CSP: got %q, want frame-ancestors 'none' and no unsafe-inline", path, csp)
		}
		if pp := resp.Header.Get("Permissions-Policy"); !strings.Contains(pp, "camera=(self)") ||
			!strings.Contains(pp, "microphone=(self)") {
			t.Errorf("%s Permissions-Policy: got %q", path, pp)
		}
		if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "" {
			t.Errorf("%s: HSTS over plain HTTP: got %q, want none", path, hsts)
		}
	}
}

func TestDevTLSSendsHSTS(t *testing.T) {
	_, addr := startServer(t, func(c *Config) { c.DevTLS = true })
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // the development certificate is self-signed
		}},
	}
	defer client.CloseIdleConnections()
	resp, _ := get(t, client, "https://"+addr+"/healthz")
	if resp.TLS == nil {
		t.Fatal("response did not come over TLS")
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("HSTS: got %q, want max-age", hsts)
	}
}

func TestBodyLimit(t *testing.T) {
	_, addr := startServer(t, func(c *Config) { c.MaxBodyBytes = 2048 })
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post("http://"+addr+"/healthz", "application/json", strings.NewReader(strings.Repeat("x", 4096)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: got status %d, want 413", resp.StatusCode)
	}
}

func TestGracefulShutdownFinishesRequests(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Media = loopbackMedia()
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	started := make(chan struct{})
	release := make(chan struct{})
	srv.router.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(a net.Addr) { addrc <- a }) }()
	addr := (<-addrc).String()

	client := &http.Client{Timeout: 10 * time.Second}
	bodyc := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/slow")
		if err != nil {
			bodyc <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		bodyc <- string(b)
	}()
	<-started
	cancel()
	// New connections are refused once shutdown has begun.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepts connections after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	if got := <-bodyc; got != "finished" {
		t.Fatalf("in-flight request: got %q, want %q", got, "finished")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
}

func TestBackupWhileRunning(t *testing.T) {
	srv, _ := startServer(t, nil)
	dir := filepath.Dir(srv.DB().Path())
	out := filepath.Join(t.TempDir(), "backup.db")
	n, err := Backup(context.Background(), dir, out)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if n == 0 {
		t.Fatal("Backup wrote no bytes")
	}
	copyDB, err := store.OpenFile(out, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer copyDB.Close()
	want, _ := srv.DB().SchemaVersion()
	got, _ := copyDB.SchemaVersion()
	if got != want {
		t.Fatalf("backup schema version: got %d, want %d", got, want)
	}
	if _, err := Backup(context.Background(), dir, out); err == nil {
		t.Fatal("Backup over an existing file: got nil error")
	}
}

func TestSecondServerOnSameDataDir(t *testing.T) {
	srv, _ := startServer(t, nil)
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Dir(srv.DB().Path())
	_, err := New(cfg, nil)
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second server: got %v, want ErrLocked", err)
	}
}

func TestUnsafeKeyFileStopsStart(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, store.KeyFileName)
	os.WriteFile(key, make([]byte, store.KeySize), 0o644)
	os.Chmod(key, 0o644)
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Media = loopbackMedia()
	_, err := New(cfg, nil)
	if !errors.Is(err, store.ErrKeyPermissions) {
		t.Fatalf("New with a world-readable key: got %v, want ErrKeyPermissions", err)
	}
}

func TestUnsafeKeyFileCreatesNoDatabase(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, store.KeyFileName)
	os.WriteFile(key, make([]byte, store.KeySize), 0o644)
	os.Chmod(key, 0o644)
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	if _, err := New(cfg, nil); err == nil {
		t.Fatal("New with a world-readable key: got nil error")
	}
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); err == nil {
		t.Fatal("a rejected start created the database file")
	}
}
