package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/bedside-health/bedside/clients/client"
)

// Exit codes of the command-line client.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // any other failure
	ExitUsage   = 2 // invalid command line
	ExitAuth    = 3 // sign-in needed: run login
	ExitTrust   = 4 // a trust warning needs the user's decision
)

// Stdio holds the streams of one run.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	args    string // the positional arguments, for the usage line
	summary string
	run     func(ctx context.Context, e *env, args []string) error
	flags   func(fs *flag.FlagSet, e *env)
}

func commands() []command {
	return []command{
		{name: "login", summary: "sign in and create or approve this device's keys",
			flags: loginFlags, run: runLogin},
		{name: "logout", summary: "end the session and forget its token", run: runLogout},
		{name: "devices", args: "list [USER] | status | approve REQUEST | revoke DEVICE | accept USER",
			summary: "list, approve, revoke or accept devices", run: runDevices},
		{name: "consultations", summary: "list your consultations", run: runConsultations},
		{name: "conversations", summary: "list your conversations", run: runConversations},
		{name: "send", args: "CONVERSATION TEXT...", summary: "send an end-to-end encrypted message",
			flags: trustFlags, run: runSend},
		{name: "read", args: "CONVERSATION", summary: "read new messages of a conversation",
			flags: readFlags, run: runRead},
		{name: "attach", args: "CONVERSATION FILE", summary: "upload an encrypted file and send it in a message",
			flags: attachFlags, run: runAttach},
		{name: "download", args: "CONVERSATION SEQ", summary: "download and decrypt an attachment of a message",
			flags: downloadFlags, run: runDownload},
		{name: "safety-number", args: "USER", summary: "show, verify or accept a correspondent's safety number",
			flags: safetyFlags, run: runSafetyNumber},
		{name: "call", args: "CONSULTATION", summary: "join a consultation as a headless media peer",
			flags: callFlags, run: runCall},
	}
}

// env is the per-run state shared by the commands.
type env struct {
	io       Stdio
	server   string
	stateDir string
	insecure bool
	trustNew bool
	verbose  bool
	getenv   func(string) string

	// Command-specific flag values.
	login    loginOptions
	read     readOptions
	attach   attachOptions
	download downloadOptions
	safety   safetyOptions
	call     callOptions

	// warned is set when a trust warning was printed.
	warned bool
}

// Main runs the client with args (without the program name) and returns
// the exit code.
func Main(args []string, stdio Stdio) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdio, os.Getenv)
}

func run(ctx context.Context, args []string, stdio Stdio, getenv func(string) string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdio.Err)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stdio.Err, "bedside-client: unknown command %q\n\n", args[0])
		usage(stdio.Err)
		return ExitUsage
	}
	e := &env{io: stdio, getenv: getenv}
	fs := flag.NewFlagSet("bedside-client "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	e.commonFlags(fs)
	if cmd.flags != nil {
		cmd.flags(fs, e)
	}
	fs.Usage = func() {
		fmt.Fprintf(stdio.Err, "usage: bedside-client %s [flags] %s\n\n%s.\n\nflags:\n", cmd.name, cmd.args, cmd.summary)
		fs.PrintDefaults()
		fmt.Fprint(stdio.Err, exitCodeHelp)
	}
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	err = cmd.run(ctx, e, positional)
	return e.report(err)
}

// parseInterspersed parses flags before, between and after positional
// arguments, so "devices approve --state-dir DIR REQUEST" works. An
// argument "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

const exitCodeHelp = `
exit codes: 0 success, 1 failure, 2 invalid command line, 3 sign-in needed
(run login), 4 a trust warning needs your decision (see the messages above).
`

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: bedside-client COMMAND [flags] [arguments]\n\ncommands:\n")
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun bedside-client COMMAND --help for a command's flags.\n"+exitCodeHelp)
}

func (e *env) commonFlags(fs *flag.FlagSet) {
	defaultDir := e.getenv("BEDSIDE_STATE_DIR")
	if defaultDir == "" {
		if cfg, err := os.UserConfigDir(); err == nil {
			defaultDir = filepath.Join(cfg, "bedside-client")
		}
	}
	fs.StringVar(&e.server, "server", e.getenv("BEDSIDE_SERVER"),
		"server base URL such as https://clinic.example (default $BEDSIDE_SERVER, then the one of the last login)")
	fs.StringVar(&e.stateDir, "state-dir", defaultDir,
		"directory of the keys, the session and the trust store, created with mode 0700 (default $BEDSIDE_STATE_DIR)")
	fs.BoolVar(&e.insecure, "insecure-skip-verify", false,
		"accept any TLS certificate: only for a server's self-signed development certificate")
	fs.BoolVar(&e.verbose, "verbose", false, "print debug messages on stderr (never tokens, keys or content)")
}

// usageError marks a command-line mistake (exit code 2).
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// trustError marks a completed operation that printed trust warnings.
var errTrustWarnings = errors.New("trust warnings need your decision")

// report prints err and maps it to an exit code.
func (e *env) report(err error) int {
	if err == nil {
		if e.warned {
			fmt.Fprintln(e.io.Err, "bedside-client: "+errTrustWarnings.Error()+
				": compare safety numbers, then accept with devices accept USER or --trust-new-devices")
			return ExitTrust
		}
		return ExitOK
	}
	msg := strings.TrimPrefix(err.Error(), "client: ")
	fmt.Fprintln(e.io.Err, "bedside-client: "+msg)
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, client.ErrAuthRequired), errors.Is(err, client.ErrSecondFactorRequired),
		errors.Is(err, client.ErrNoDevice):
		fmt.Fprintln(e.io.Err, "bedside-client: sign in with: bedside-client login")
		return ExitAuth
	case errors.Is(err, client.ErrIdentityChanged), errors.Is(err, client.ErrNewDevices),
		errors.Is(err, errTrustWarnings):
		return ExitTrust
	}
	return ExitFailure
}
