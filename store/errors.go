package store

import "errors"

var (
	// ErrLocked reports that another process holds the database open.
	ErrLocked = errors.New("database is in use by another process")
	// ErrCorrupt reports a file that is not a readable bbolt database.
	ErrCorrupt = errors.New("database file is corrupt or not a bbolt database")
	// ErrSchemaTooNew reports a database written by a newer Bedside.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
	// ErrNotFound reports a record that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists reports a record that already exists under a unique key.
	ErrExists = errors.New("already exists")
	// ErrKeyPermissions reports a server key file readable by others.
	ErrKeyPermissions = errors.New("server key file permissions are too open")
	// ErrKeyInvalid reports a server key file of the wrong size.
	ErrKeyInvalid = errors.New("server key file is invalid")
	// ErrUnsealFailed reports a sealed value that was tampered with, moved
	// to another location or sealed under another key.
	ErrUnsealFailed = errors.New("sealed value failed authentication")
)
