package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/bedside-health/bedside/server"
)

func printDemo(w io.Writer, addr net.Addr, cfg server.Config, d server.Demo) {
	scheme := "http"
	if cfg.TLSEnabled() {
		scheme = "https"
	}
	fmt.Fprintf(w, "\nBedside demo clinic at %s://%s\n\n", scheme, addr)
	for _, u := range []server.DemoUser{d.Clinician, d.Patient, d.Nurse, d.Admin} {
		fmt.Fprintf(w, "  %-9s  %-28s  password %s\n", u.Role, u.Email, u.Password)
	}
	fmt.Fprintf(w, "\nEach account uses a second factor. Get the current codes with:\n"+
		"  bedside demo codes --data-dir %s\n"+
		"or add the secrets in %s to an authenticator app.\n"+
		"Sign in as the clinician and the patient in two browser windows (one private);\n"+
		"the consultation %s starts now.\n\n",
		cfg.DataDir, filepath.Join(cfg.DataDir, server.DemoFileName), d.ConsultationID)
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, "Usage: bedside demo codes [--data-dir DIR]\n\n"+
			"Prints the demo accounts' next TOTP codes. Start a demo with bedside serve --demo.\n")
		return nil
	}
	if len(args) == 0 || args[0] != "codes" {
		return usageError{errors.New("demo needs a subcommand: codes")}
	}
	dataDir := server.DefaultConfig().DataDir
	fs := newFlagSet("demo codes", "demo codes [--data-dir DIR]", stdout)
	fs.StringVar(&dataDir, "data-dir", dataDir, "`directory` of a server started with --demo")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	path := filepath.Join(dataDir, server.DemoFileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w; start the server with --demo first", path, err)
	}
	var d server.Demo
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("invalid %s: %w", path, err)
	}
	now := time.Now()
	for _, u := range []server.DemoUser{d.Clinician, d.Patient, d.Nurse, d.Admin} {
		code, from, err := u.NextCode(now)
		if err != nil {
			return fmt.Errorf("code for %s: %w", u.Email, err)
		}
		when := "use it now"
		if from.After(now) {
			when = "use it from " + from.Format(time.TimeOnly)
		}
		fmt.Fprintf(stdout, "%-9s  %-28s  %s  (%s)\n", u.Role, u.Email, code, when)
	}
	fmt.Fprintln(stdout, "Each code works once per account and for about a minute;"+
		" run this again for fresh codes.")
	return nil
}
