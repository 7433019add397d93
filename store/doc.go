// Package store persists Bedside's state in a single bbolt database file in
// the data directory, and keeps the server key beside it.
//
// Open the database with Open; it applies the ordered schema migrations
// before it returns. Each domain (accounts, clinic, messaging, audit) keeps
// its records in its own buckets through the methods in this package, so that
// a networked implementation can later replace bbolt behind the same types.
//
// The server key (LoadOrCreateKey) never enters the database file: a backup
// of the database alone reveals no sealed secret. Sealer encrypts server-held
// secrets such as TOTP seeds and billing fields with AES-256-GCM, bound to
// the place where each value is stored.
//
// bbolt allows one writing process per file. While the server runs, operator
// commands reach the database through the server's control socket instead.
package store
