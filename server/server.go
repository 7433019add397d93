package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/clients/web"
	"github.com/bedside-health/bedside/store"
)

// Server is one running Bedside instance. Create it with New, run it with
// Serve, and release it with Close after Serve returns.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       *store.DB
	key      *store.ServerKey
	sealer   *store.Sealer
	registry *prometheus.Registry
	router   *api.Router
	handler  http.Handler
	tls      *tls.Config

	ready    atomic.Bool
	services services
}

// New validates cfg, opens the data directory and builds every service. It
// returns a clear error and changes nothing on disk when the database is
// locked or corrupt or the key file is unsafe.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, registry: prometheus.NewRegistry()}
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if err := s.openStorage(); err != nil {
		return nil, err
	}
	tlsCfg, err := s.loadTLS()
	if err != nil {
		s.db.Close()
		return nil, err
	}
	s.tls = tlsCfg
	s.router = api.NewRouter(s.registry)
	if err := s.buildServices(); err != nil {
		s.db.Close()
		return nil, err
	}
	s.routes()
	s.handler = api.SecurityHeaders(cfg.TLSEnabled(),
		api.LimitBody(cfg.MaxBodyBytes, s.services.middleware(s.router)))
	return s, nil
}

func (s *Server) openStorage() error {
	// The key is checked before the database so that an unsafe key file
	// stops the start before anything is created.
	keyPath := s.cfg.KeyFile
	if keyPath == "" {
		keyPath = filepath.Join(s.cfg.DataDir, store.KeyFileName)
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create --data-dir %s: %w", s.cfg.DataDir, err)
	}
	s.warnOpenDataDir()
	key, err := store.LoadOrCreateKey(keyPath)
	if err != nil {
		return err
	}
	db, err := store.Open(s.cfg.DataDir, store.Options{})
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("%w; stop the other bedside process or choose another --data-dir", err)
	case errors.Is(err, store.ErrCorrupt):
		return fmt.Errorf("%w; restore the file from a backup made with 'bedside backup'", err)
	case err != nil:
		return err
	}
	s.db, s.key, s.sealer = db, key, store.NewSealer(key)
	return nil
}

// warnOpenDataDir logs a warning when other users may list or enter an
// existing data directory. MkdirAll creates it with mode 0700 but leaves
// an existing one as it is. The files inside have mode 0600, so others
// cannot read them, but they would see their names and sizes.
func (s *Server) warnOpenDataDir() {
	info, err := os.Stat(s.cfg.DataDir)
	if err != nil {
		return // openStorage reports the error when it opens the files
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		s.log.Warn("data directory is open to other users; run chmod 700 on it",
			"data_dir", s.cfg.DataDir, "mode", fmt.Sprintf("%04o", mode))
	}
}

// Handler returns the server's HTTP handler with all middleware, for tests.
func (s *Server) Handler() http.Handler { return s.handler }

// DB returns the open database.
func (s *Server) DB() *store.DB { return s.db }

func (s *Server) routes() {
	s.router.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.router.HandleFunc("GET /readyz", s.readyz)
	if s.cfg.MetricsAddr == "" {
		s.router.Handle("GET /metrics", loopbackOnly(s.metricsHandler()))
	}
	s.services.register(s.router)
	// The web app serves every other GET, so that each of its screens
	// can be loaded or reloaded by its own URL.
	s.router.SetFallback(web.MustHandler())
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting or stopping"})
		return
	}
	if _, err := s.db.SchemaVersion(); err != nil {
		s.log.Error("readiness check failed", "err", err)
		api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// loopbackOnly answers requests from non-loopback client addresses with
// the JSON not-found error. The main listener faces patients and the
// internet, and metrics count sign-ins, alerts and messages, so a remote
// scraper uses --metrics-addr instead.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := netip.ParseAddr(api.ClientAddr(r))
		if err != nil || !a.IsLoopback() {
			api.WriteError(w, r, nil, api.NotFound())
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// Serve listens on the configured addresses and serves until ctx ends, then
// shuts down gracefully within Config.ShutdownTimeout: it stops accepting,
// lets requests finish, closes WebSocket peers with going-away and flushes
// the services. ready, when not nil, receives the bound main address once
// the listener is up.
func (s *Server) Serve(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on --addr %s: %w; choose a free port", s.cfg.Addr, err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	main := s.httpServer(s.handler)
	servers := []*http.Server{main}
	errc := make(chan error, 3)
	go func() { errc <- serveUntilClosed(main, ln) }()

	if s.cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			main.Close()
			return fmt.Errorf("listen on --metrics-addr %s: %w", s.cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metricsHandler())
		ms := s.httpServer(mux)
		servers = append(servers, ms)
		go func() { errc <- serveUntilClosed(ms, mln) }()
	}
	ctl, err := s.listenControl()
	if err != nil {
		for _, hs := range servers {
			hs.Close()
		}
		return err
	}
	servers = append(servers, ctl.server)
	go func() { errc <- serveUntilClosed(ctl.server, ctl.listener) }()

	s.ready.Store(true)
	s.log.Info("server started", "addr", ln.Addr().String(), "tls", s.tls != nil,
		"data_dir", s.cfg.DataDir, "metrics_addr", s.cfg.MetricsAddr)
	s.services.started(ctx, s)
	if ready != nil {
		ready(ln.Addr())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		s.log.Error("listener failed", "err", serveErr)
	}
	s.shutdown(servers)
	return serveErr
}

func (s *Server) shutdown(servers []*http.Server) {
	s.ready.Store(false)
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	for _, hs := range servers {
		hs.SetKeepAlivesEnabled(false)
	}
	// WebSocket peers are hijacked connections that Shutdown does not wait
	// for, so the hub closes them itself.
	s.services.shutdown(ctx, s.log)
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			s.log.Warn("forced close of open connections", "err", err)
			hs.Close()
		}
	}
	s.log.Info("server stopped")
}

// Close releases the store. Call it after Serve returns.
func (s *Server) Close() error {
	s.services.close(s.log)
	return s.db.Close()
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // attachment chunks on slow links
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

func serveUntilClosed(hs *http.Server, ln net.Listener) error {
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
