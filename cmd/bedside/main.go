// Command bedside runs the Bedside telehealth server and its operator tasks.
//
// Usage:
//
//	bedside serve [flags]          run the server
//	bedside admin create-user ...  create an account and print its enrollment token
//	bedside backup --out FILE      write a consistent copy of the database
//	bedside audit verify|export    check or export the audit trail
//	bedside version                print the version
//
// Every flag can also be set through an environment variable named
// BEDSIDE_ followed by the flag name in upper case with dashes as
// underscores, for example BEDSIDE_DATA_DIR. A flag on the command line wins.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	_ "time/tzdata" // clinic hours in any IANA zone, also on hosts without zoneinfo
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `bedside is a self-hosted telehealth server.

Usage:
  bedside serve [flags]                         run the server
  bedside admin create-user --email E --role R  create an account, print its enrollment token
  bedside backup --out FILE                     write a consistent copy of the database
  bedside audit verify                          check the audit trail's hash chain and signatures
  bedside audit export --since T                write audit records as JSON lines
  bedside serve --demo                          run with a seeded demo clinic (loopback only)
  bedside demo codes                            print the demo accounts' current TOTP codes
  bedside version                               print the version

Run "bedside COMMAND --help" for the flags of a command.
`

// run executes one command and returns the process exit code: 0 on
// success, 1 when the command failed, 2 on a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(rest, stdout, stderr)
	case "admin":
		err = runAdmin(rest, stdout, stderr)
	case "demo":
		err = runDemo(rest, stdout, stderr)
	case "backup":
		err = runBackup(rest, stdout, stderr)
	case "audit":
		err = runAudit(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "bedside %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "bedside: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "bedside %s: %v\n", cmd, err)
		return 2
	default:
		fmt.Fprintf(stderr, "bedside %s: %v\n", cmd, err)
		return 1
	}
}

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
