package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/bedside-health/bedside/store"
)

// ControlSocketName is the operator control socket in the data directory.
// Only the data directory's owner can reach it (mode 0600). Operator
// commands use it while the server holds the database lock.
const ControlSocketName = "control.sock"

type controlListener struct {
	server   *http.Server
	listener net.Listener
}

func (s *Server) listenControl() (*controlListener, error) {
	path := filepath.Join(s.cfg.DataDir, ControlSocketName)
	// This process holds the database lock, so a socket file left here is
	// from a server that died and can go.
	if err := removeIfExists(path); err != nil {
		return nil, fmt.Errorf("remove stale control socket %s: %w", path, err)
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("set mode of control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", s.controlBackup)
	mux.HandleFunc("GET /audit/verify", s.controlAuditVerify)
	mux.HandleFunc("GET /audit/export", s.controlAuditExport)
	s.services.registerControl(mux)
	return &controlListener{server: s.httpServer(mux), listener: ln}, nil
}

func (s *Server) controlBackup(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	n, err := s.db.WriteTo(w)
	if err != nil {
		s.log.Error("backup through control socket failed", "err", err, "bytes", n)
		return
	}
	s.log.Info("backup written through control socket", "bytes", n)
}

// ErrNotRunning reports that no server listens on the control socket.
var ErrNotRunning = errors.New("no running server on the control socket")

// ControlClient talks to a running server's control socket.
type ControlClient struct {
	http *http.Client
}

// DialControl returns a client for the server whose data directory is dir,
// or ErrNotRunning when none is listening there.
func DialControl(dir string) (*ControlClient, error) {
	path := filepath.Join(dir, ControlSocketName)
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, ErrNotRunning
	}
	conn.Close()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &ControlClient{http: &http.Client{Transport: tr}}, nil
}

// Do sends a request to the control socket and returns the response when
// its status is 2xx, and the server's error message otherwise.
func (c *ControlClient) Do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://bedside"+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("server returned %s: %s", resp.Status, msg)
	}
	return resp, nil
}

// Backup writes a consistent copy of the database in dir to out. It asks
// the running server through the control socket, and opens the database
// itself when no server runs. out must not exist.
func Backup(ctx context.Context, dir, out string) (int64, error) {
	c, err := DialControl(dir)
	if errors.Is(err, ErrNotRunning) {
		db, err := store.Open(dir, store.Options{ReadOnly: true})
		if err != nil {
			return 0, err
		}
		defer db.Close()
		return db.BackupFile(out)
	}
	return store.WriteFileExclusive(out, func(w io.Writer) (int64, error) {
		resp, err := c.Do(ctx, http.MethodGet, "/backup", nil)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return io.Copy(w, resp.Body)
	})
}

// writeControlError writes a plain error for the control socket client.
func writeControlError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, err.Error())
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
