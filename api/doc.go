// Package api holds what every HTTP JSON endpoint of Bedside shares: the one
// error shape, bounded JSON decoding, the router that names routes for
// metrics, client addresses and the security headers.
//
// Handlers live with their domain (auth, clinic, messaging, audit) and
// register themselves on a Router. Every error a handler returns reaches the
// client through WriteError, which maps it to a status and a stable code and
// never shows internal detail.
//
// The full list of endpoints is in docs/api.md.
package api
