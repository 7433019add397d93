package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	keyDir := t.TempDir()
	os.WriteFile(filepath.Join(keyDir, "server.key"), make([]byte, 32), 0o644)
	os.Chmod(filepath.Join(keyDir, "server.key"), 0o644)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, 2, "Usage:"},
		{"unknown command", []string{"fly"}, 2, `unknown command "fly"`},
		{"version", []string{"version"}, 0, ""},
		{"unknown flag", []string{"serve", "--bogus"}, 2, "-bogus"},
		{"bad port", []string{"serve", "--addr", "127.0.0.1:99999"}, 2, "port must be a number"},
		{"public plain http", []string{"serve", "--addr", "0.0.0.0:8080"}, 2, "--insecure-http"},
		{"missing cert file", []string{"serve", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.pem"}, 2, "invalid --tls-cert"},
		{"loose key file", []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", keyDir}, 1, "chmod 600"},
		{"backup without out", []string{"backup", "--data-dir", dir}, 2, "missing --out"},
		{"stray argument", []string{"backup", "extra"}, 2, "unexpected argument"},
		{"audit help", []string{"audit", "--help"}, 0, ""},
		{"admin help", []string{"admin", "-h"}, 0, ""},
		{"demo help", []string{"demo", "--help"}, 0, ""},
		{"serve help", []string{"serve", "--help"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit code: got %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Fatalf("stderr: got %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv("BEDSIDE_ADDR", "0.0.0.0:8080")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serve"}, &stdout, &stderr); code != 2 {
		t.Fatalf("BEDSIDE_ADDR on a public address: got exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "0.0.0.0:8080") {
		t.Fatalf("stderr does not name the value from the environment: %q", stderr.String())
	}
	// A flag on the command line wins over the environment.
	t.Setenv("BEDSIDE_ADDR", "not-an-address")
	t.Setenv("BEDSIDE_LOG_LEVEL", "loud")
	stderr.Reset()
	if code := run([]string{"serve", "--log-level", "info", "--addr", "0.0.0.0:1"}, &stdout, &stderr); code != 2 {
		t.Fatalf("got exit %d, want 2", code)
	}
	if strings.Contains(stderr.String(), "log-level") {
		t.Fatalf("environment overrode a command-line flag: %q", stderr.String())
	}
}

func TestEnvName(t *testing.T) {
	if got := envName("data-dir"); got != "BEDSIDE_DATA_DIR" {
		t.Fatalf("got %q, want BEDSIDE_DATA_DIR", got)
	}
}
