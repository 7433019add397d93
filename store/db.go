package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file's name inside the data directory.
const FileName = "bedside.db"

// DefaultLockTimeout bounds how long Open waits for another process to
// release the database file.
const DefaultLockTimeout = time.Second

// Options configures Open. The zero value is usable.
type Options struct {
	// LockTimeout bounds the wait for the file lock; zero means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// ReadOnly opens the file for reading only. Migrations are not applied,
	// and a database with an older schema is read as it is.
	ReadOnly bool
}

// DB is the open Bedside database. Its methods are safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
}

// Open opens or creates the database in dir and applies pending
// migrations. It fails with ErrLocked when another process holds the file,
// and with ErrCorrupt when the file is not a valid database; in both cases
// the file is left untouched.
func Open(dir string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	path := filepath.Join(dir, FileName)
	return OpenFile(path, opts)
}

// OpenFile opens the database file at path, as Open does for a directory.
func OpenFile(path string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  opts.LockTimeout,
		ReadOnly: opts.ReadOnly,
		// Every commit is fsynced: an acknowledged write survives a crash.
		NoSync: false,
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("open %s: %w", path, ErrCorrupt)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path}
	if opts.ReadOnly {
		return db, nil
	}
	if err := db.migrate(migrations); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Bolt returns the underlying bbolt handle, for the persistence methods of
// this package and for consistency checks in tests.
func (db *DB) Bolt() *bolt.DB { return db.bolt }

// Close closes the database. It waits for open transactions to finish.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// Check runs bbolt's consistency check and returns the first problem found.
func (db *DB) Check() error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		var first error
		// Drain the channel so the checking goroutine can finish.
		for err := range tx.Check() {
			if first == nil {
				first = fmt.Errorf("consistency check: %w", err)
			}
		}
		return first
	})
}
