package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/bedside-health/bedside/server"
)

func runServe(args []string, stdout, stderr io.Writer) error {
	cfg := server.DefaultConfig()
	fs := newFlagSet("serve", "serve [flags]", stdout)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "`host:port` of the HTTP(S) listener")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "`directory` for the database, server key and control socket")
	fs.StringVar(&cfg.KeyFile, "key-file", cfg.KeyFile, "`path` of the server key (default DATA-DIR/server.key); keep it out of database backups")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate `file` (with --tls-key) to serve HTTPS")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key `file` for --tls-cert")
	fs.BoolVar(&cfg.DevTLS, "dev-tls", cfg.DevTLS, "serve HTTPS with a generated self-signed certificate, for local testing only")
	fs.BoolVar(&cfg.InsecureHTTP, "insecure-http", cfg.InsecureHTTP, "allow plain HTTP on a non-loopback address, only behind a TLS-terminating proxy")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "minimum log `level`: debug, info, warn or error")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "`host:port` of a separate Prometheus /metrics listener (default: /metrics on --addr, for loopback clients only)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "maximum `duration` of a graceful shutdown")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", cfg.MaxBodyBytes, "maximum request body size in `bytes` (attachment chunks have their own limit)")
	var demo bool
	fs.BoolVar(&demo, "demo", false, "seed a demo clinic (four accounts and a consultation starting now) and print how to sign in; loopback --addr only")
	registerServiceFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if demo {
		// The demo is for browsers on this machine: media stays on
		// loopback like the HTTP listener, unless the operator names
		// other interfaces.
		cfg.Media.AllowLoopback = true
		if len(cfg.Media.Interfaces) == 0 {
			cfg.Media.Interfaces = []string{"lo"}
		}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	level, _ := server.ParseLogLevel(cfg.LogLevel)
	log := newLogger(stderr, level)

	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ready func(net.Addr)
	if demo {
		d, err := srv.SeedDemo(ctx)
		if err != nil {
			srv.Close()
			return err
		}
		ready = func(addr net.Addr) { printDemo(stdout, addr, cfg, d) }
	}
	serveErr := srv.Serve(ctx, ready)
	if err := srv.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// newLogger logs text to a terminal and JSON otherwise.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, opts))
		}
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
