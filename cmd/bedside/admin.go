package main

import (
	"fmt"
	"io"
)

func runAdmin(args []string, stdout, stderr io.Writer) error {
	return usageError{fmt.Errorf("admin needs a subcommand: create-user")}
}

func runAudit(args []string, stdout, stderr io.Writer) error {
	return usageError{fmt.Errorf("audit needs a subcommand: verify or export")}
}
