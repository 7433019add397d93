// Command e2ee-vectors writes the end-to-end encryption test vectors to
// testdata/e2ee (or the directory given with -out). The output is
// deterministic except for HPKE output bytes, which the vectors list.
//
//	go run ./cmd/e2ee-vectors -out testdata/e2ee
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bedside-health/bedside/e2ee/vectors"
)

func main() {
	out := flag.String("out", "testdata/e2ee", "directory to write the vector files to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "e2ee-vectors:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := vectors.Generate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range vectors.Files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d bytes)\n", path, len(files[name]))
	}
	return nil
}
