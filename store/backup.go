package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// WriteTo writes a consistent copy of the whole database to w from one read
// transaction, so writers keep running while it is taken.
func (db *DB) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("write backup: %w", err)
	}
	return n, nil
}

// BackupFile writes a consistent copy of the database to path with mode
// 0600. It refuses to overwrite an existing file, and a failed copy leaves
// no file behind.
func (db *DB) BackupFile(path string) (int64, error) {
	return WriteFileExclusive(path, db.WriteTo)
}

// WriteFileExclusive creates path with mode 0600 from what write produces.
// The data goes to a temporary file in the same directory, is fsynced and
// then linked into place, so path either does not exist or is complete. An
// existing path is never overwritten.
func WriteFileExclusive(path string, write func(io.Writer) (int64, error)) (int64, error) {
	if _, err := os.Lstat(path); err == nil {
		return 0, fmt.Errorf("%s already exists: choose another file name", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bedside-tmp-*")
	if err != nil {
		return 0, fmt.Errorf("create temporary file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return 0, fmt.Errorf("set mode of %s: %w", tmp.Name(), err)
	}
	n, err := write(tmp)
	if err != nil {
		return n, err
	}
	if err := tmp.Sync(); err != nil {
		return n, fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return n, fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	// os.Link fails when path exists, unlike os.Rename.
	if err := os.Link(tmp.Name(), path); err != nil {
		return n, fmt.Errorf("create %s: %w", path, err)
	}
	return n, syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
