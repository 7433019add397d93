package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/bedside-health/bedside/server"
)

func runBackup(args []string, stdout, stderr io.Writer) error {
	dataDir := server.DefaultConfig().DataDir
	var out string
	fs := newFlagSet("backup", "backup --out FILE [--data-dir DIR]", stdout)
	fs.StringVar(&dataDir, "data-dir", dataDir, "`directory` of the database to copy")
	fs.StringVar(&out, "out", "", "`file` to write the copy to; it must not exist")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if out == "" {
		return usageError{errors.New("missing --out FILE: name the backup file to create")}
	}
	n, err := server.Backup(context.Background(), dataDir, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d bytes to %s\n", n, out)
	return nil
}
