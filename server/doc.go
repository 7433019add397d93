// Package server assembles Bedside: it opens the store, builds every
// service, mounts their routes behind the security middleware and serves
// HTTPS (or plain HTTP on loopback), metrics and the operator control
// socket until its context ends, then shuts down within a bounded time.
//
// cmd/bedside turns flags and environment variables into a Config and calls
// Run; nothing in this package reads flags or the environment.
package server
