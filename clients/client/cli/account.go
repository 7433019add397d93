package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/bedside-health/bedside/clients/client"
)

// open opens the state directory with the run's flags.
func (e *env) open() (*client.Client, error) {
	if e.stateDir == "" {
		return nil, usagef("no state directory: give --state-dir or set BEDSIDE_STATE_DIR")
	}
	if e.insecure {
		fmt.Fprintln(e.io.Err, "WARNING: --insecure-skip-verify accepts ANY TLS certificate: anyone on the network "+
			"can read and change this session. Use it only with a development server's self-signed certificate.")
	}
	logger := slog.New(slog.DiscardHandler)
	if e.verbose {
		logger = slog.New(slog.NewTextHandler(e.io.Err, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return client.Open(client.Config{
		ServerURL:          e.server,
		StateDir:           e.stateDir,
		InsecureSkipVerify: e.insecure,
		TrustNewDevices:    e.trustNew,
		Logger:             logger,
	})
}

// withClient opens the client, runs fn and closes the client, which
// saves the state.
func (e *env) withClient(fn func(c *client.Client) error) error {
	c, err := e.open()
	if err != nil {
		return err
	}
	err = fn(c)
	return errors.Join(err, c.Close())
}

// warn prints trust warnings; all but first-contact notes make the run
// exit with ExitTrust.
func (e *env) warn(ws []*client.TrustWarning) {
	for _, w := range ws {
		switch {
		case errors.Is(w, client.ErrFirstContact):
			fmt.Fprintln(e.io.Err, "note: "+w.Error())
			continue
		case e.trustNew && errors.Is(w, client.ErrNewDevices):
			fmt.Fprintf(e.io.Err, "note: accepted the new devices %s of user %s (--trust-new-devices)\n",
				strings.Join(w.DeviceIDs, ", "), w.UserID)
			continue
		}
		e.warned = true
		fmt.Fprintln(e.io.Err, "WARNING: "+w.Error())
	}
}

type loginOptions struct {
	email         string
	passwordStdin bool
	code          string
	recoveryCode  string
}

func loginFlags(fs *flag.FlagSet, e *env) {
	fs.StringVar(&e.login.email, "email", "", "account email address (required)")
	fs.BoolVar(&e.login.passwordStdin, "password-stdin", false,
		"read the password from the first line of standard input (default $BEDSIDE_PASSWORD, else a prompt)")
	fs.StringVar(&e.login.code, "code", "", "TOTP code of the second factor (prompted when needed and not given)")
	fs.StringVar(&e.login.recoveryCode, "recovery-code", "", "one-time recovery code instead of a TOTP code")
}

func runLogin(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usagef("login takes no arguments")
	}
	if e.login.email == "" {
		return usagef("login needs --email")
	}
	password, err := e.password()
	if err != nil {
		return err
	}
	return e.withClient(func(c *client.Client) error {
		cred := client.Credentials{Email: e.login.email, Password: password,
			TOTPCode: e.login.code, RecoveryCode: e.login.recoveryCode}
		res, err := c.Login(ctx, cred)
		if errors.Is(err, client.ErrSecondFactorRequired) && e.isTerminal() {
			if cred.TOTPCode, err = e.prompt("TOTP code: ", false); err == nil {
				res, err = c.Login(ctx, cred)
			}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.io.Out, "signed in as %s (%s, %s); session expires %s\n", res.Account.Email,
			res.Account.ID, res.Account.Role, res.ExpiresAt.Local().Format("2006-01-02 15:04"))
		if res.EnrollmentRequired {
			fmt.Fprintln(e.io.Out, "this staff account has no second factor yet: enroll TOTP in the web app first")
			return nil
		}
		return e.setupDevice(ctx, c)
	})
}

// setupDevice creates, registers or checks this device and prints what
// the user does next.
func (e *env) setupDevice(ctx context.Context, c *client.Client) error {
	setup, err := c.EnsureDevice(ctx)
	if err != nil {
		return err
	}
	switch {
	case setup.First:
		fmt.Fprintf(e.io.Out, "created the account's identity key and registered this device %s\n", setup.DeviceID)
	case setup.Pending:
		fmt.Fprintf(e.io.Out, "this account already has devices: approve this device %s on the first one with\n"+
			"  bedside-client devices approve %s\nthen run here: bedside-client devices status\n",
			setup.DeviceID, setup.Request.String())
	default:
		fmt.Fprintf(e.io.Out, "this device %s is registered\n", setup.DeviceID)
	}
	return nil
}

// password returns the password from stdin, the environment or a prompt.
func (e *env) password() (string, error) {
	switch {
	case e.login.passwordStdin:
		line, err := bufio.NewReader(e.io.In).ReadString('\n')
		if err != nil && line == "" {
			return "", usagef("--password-stdin: no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	case e.getenv("BEDSIDE_PASSWORD") != "":
		return e.getenv("BEDSIDE_PASSWORD"), nil
	case e.isTerminal():
		return e.prompt("Password: ", true)
	}
	return "", usagef("no password: give --password-stdin or set BEDSIDE_PASSWORD")
}

func (e *env) isTerminal() bool {
	f, ok := e.io.In.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// prompt reads a line from the terminal, without echo for secrets.
func (e *env) prompt(label string, secret bool) (string, error) {
	fmt.Fprint(e.io.Err, label)
	f := e.io.In.(*os.File)
	if secret {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.io.Err)
		return string(b), err
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line), err
}

func runLogout(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usagef("logout takes no arguments")
	}
	return e.withClient(func(c *client.Client) error {
		if err := c.Logout(ctx); err != nil {
			return err
		}
		fmt.Fprintln(e.io.Out, "signed out")
		return nil
	})
}

func runDevices(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		args = []string{"list"}
	}
	sub, rest := args[0], args[1:]
	want := map[string]int{"list": -1, "status": 0, "approve": 1, "revoke": 1, "accept": 1}
	n, ok := want[sub]
	switch {
	case !ok:
		return usagef("unknown devices subcommand %q: use list, status, approve, revoke or accept", sub)
	case n >= 0 && len(rest) != n, n < 0 && len(rest) > 1:
		return usagef("wrong number of arguments for devices %s", sub)
	}
	return e.withClient(func(c *client.Client) error {
		switch sub {
		case "status":
			return e.setupDevice(ctx, c)
		case "approve":
			a, err := c.ApproveDevice(ctx, rest[0])
			if err != nil {
				return err
			}
			if a.AlreadyListed {
				fmt.Fprintf(e.io.Out, "device %s is already approved\n", a.DeviceID)
				return nil
			}
			fmt.Fprintf(e.io.Out, "approved device %s; device list version %d\n", a.DeviceID, a.ListVersion)
		case "revoke":
			r, err := c.RevokeDevice(ctx, rest[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.io.Out, "revoked device %s", rest[0])
			if r.ListVersion > 0 {
				fmt.Fprintf(e.io.Out, "; device list version %d", r.ListVersion)
			}
			fmt.Fprintln(e.io.Out)
		case "accept":
			ids, err := c.AcceptDevices(ctx, rest[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.io.Out, "accepted %d new devices of %s: %s\n", len(ids), rest[0], strings.Join(ids, " "))
		default:
			user := c.UserID()
			if len(rest) == 1 {
				user = rest[0]
			}
			return e.listDevices(ctx, c, user)
		}
		return nil
	})
}

func (e *env) listDevices(ctx context.Context, c *client.Client, user string) error {
	devs, warnings, err := c.ListDevices(ctx, user)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.io.Out, "devices of %s:\n", user)
	for _, d := range devs {
		var marks []string
		for _, m := range []struct {
			on   bool
			text string
		}{{d.This, "this device"}, {d.Revoked, "revoked"}, {!d.Certified, "NOT CERTIFIED"},
			{d.Certified && !d.Accepted, "not accepted"}} {
			if m.on {
				marks = append(marks, m.text)
			}
		}
		fmt.Fprintf(e.io.Out, "  %s  registered %s  %s\n", d.DeviceID, d.CreatedAt.Local().Format("2006-01-02 15:04"),
			strings.Join(marks, ", "))
	}
	e.warn(warnings)
	return nil
}
