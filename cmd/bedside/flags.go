package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// envPrefix starts every environment variable that sets a flag.
const envPrefix = "BEDSIDE_"

// envName returns the environment variable for a flag name.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet returns a flag set whose help lists each flag with its
// environment variable.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Parse errors are printed once by run; the help goes to out only on
	// --help.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: bedside %s\n\nFlags (each also read from the environment variable shown):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			arg, help := flag.UnquoteUsage(f)
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s %s  [%s]\n      %s%s\n", f.Name, arg, envName(f.Name), help, def)
		})
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command
// line from its environment variable. Positional arguments are rejected.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err // fs.Parse has printed the help
		}
		return usageError{fmt.Errorf("%w; run with --help to list the flags", err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q; flags start with --", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageError{fmt.Errorf("invalid %s=%q: %v", envName(f.Name), v, serr)}
		}
	})
	return err
}
