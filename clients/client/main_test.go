package client_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/goleak"

	"github.com/bedside-health/bedside/clients/client/cli"
)

// leakCheck runs the tests, then checks that no goroutine was left
// behind.
type leakCheck struct{ m *testing.M }

func (l leakCheck) Run() int {
	code := l.m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left after the tests: %v\n", err)
			return 1
		}
	}
	return code
}

// TestMain makes the test binary double as bedside-client for the
// command-line scripts.
func TestMain(m *testing.M) {
	testscript.Main(leakCheck{m}, map[string]func(){
		"bedside-client": func() {
			os.Exit(cli.Main(os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
		},
	})
}
