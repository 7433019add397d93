// Command bedside-client is the command-line client of Bedside. Run it
// without arguments for the list of commands; docs/client.md describes
// them.
package main

import (
	"os"

	"github.com/bedside-health/bedside/clients/client/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
