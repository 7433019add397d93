package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bedside-health/bedside/server"
)

const adminUsage = `Usage: bedside admin create-user --email E --role R [--name N] [--data-dir DIR]

Creates an account and prints its one-time enrollment token. Run
"bedside admin create-user --help" for the flags.
`

const auditUsage = `Usage:
  bedside audit verify [--data-dir DIR]            check the hash chain and checkpoint signatures
  bedside audit export --since T [--data-dir DIR]  write records at or after T as JSON lines

Run "bedside audit verify --help" or "bedside audit export --help" for the flags.
`

func runAdmin(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, adminUsage)
		return nil
	}
	if len(args) == 0 || args[0] != "create-user" {
		return usageError{errors.New("admin needs a subcommand: create-user")}
	}
	cfg := server.DefaultConfig()
	var req server.CreateUserRequest
	fs := newFlagSet("admin create-user", "admin create-user --email E --role R [--name N] [--data-dir DIR]", stdout)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "`directory` of the database")
	fs.StringVar(&cfg.KeyFile, "key-file", cfg.KeyFile, "`path` of the server key (default DATA-DIR/server.key)")
	fs.StringVar(&req.Email, "email", "", "email `address` of the new account")
	fs.StringVar(&req.Role, "role", "", "`role` of the new account: patient, clinician, nurse, billing or admin")
	fs.StringVar(&req.DisplayName, "name", "", "display `name` shown to other users (default: the email address)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if req.Email == "" || req.Role == "" {
		return usageError{errors.New("missing --email or --role: both are required")}
	}
	if req.DisplayName == "" {
		req.DisplayName = req.Email
	}
	inv, err := server.CreateUser(context.Background(), cfg, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s account %s for %s\n", inv.Role, inv.AccountID, inv.Email)
	fmt.Fprintf(stdout, "enrollment token (shown once, valid until %s):\n%s\n",
		inv.ExpiresAt.UTC().Format(time.RFC3339), inv.Token)
	fmt.Fprintln(stdout, "The user sets a password with it in the web app, or with POST /api/v1/invitations/accept.")
	return nil
}

func runAudit(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, auditUsage)
		return nil
	}
	if len(args) == 0 {
		return usageError{errors.New("audit needs a subcommand: verify or export")}
	}
	cfg := server.DefaultConfig()
	sub := args[0]
	var sinceText string
	fs := newFlagSet("audit "+sub, "audit verify|export [--since T] [--data-dir DIR]", stdout)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "`directory` of the database")
	fs.StringVar(&cfg.KeyFile, "key-file", cfg.KeyFile, "`path` of the server key (default DATA-DIR/server.key)")
	switch sub {
	case "verify":
	case "export":
		fs.StringVar(&sinceText, "since", "", "export records at or after this `time` (RFC 3339, such as 2026-01-31T00:00:00Z)")
	default:
		return usageError{fmt.Errorf("unknown audit subcommand %q: use verify or export", sub)}
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	ctx := context.Background()
	if sub == "export" {
		since, err := time.Parse(time.RFC3339, sinceText)
		if err != nil {
			return usageError{fmt.Errorf("invalid --since %q: use RFC 3339 such as 2026-01-31T00:00:00Z", sinceText)}
		}
		return server.ExportAudit(ctx, cfg, stdout, since)
	}
	rep, err := server.VerifyAudit(ctx, cfg)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
	if p := rep.FirstBroken(); p != nil {
		return fmt.Errorf("audit trail broken at record %d (%s): %s", p.Seq, p.Kind, p.Message)
	}
	fmt.Fprintf(stderr, "audit trail intact: %d records, signed through %d\n", rep.Records, rep.SignedThrough)
	return nil
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}
