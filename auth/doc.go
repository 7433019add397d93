// Package auth owns accounts, passwords, TOTP second factors, sign-in
// sessions, invitations, password resets and sign-in throttling, and serves
// their HTTP JSON API under /api/v1.
//
// Build a Service with New, register its routes with Service.Register and
// wrap the whole router in Service.Middleware, which turns the bearer token
// of the Authorization header into a policy.Actor in the request context.
// Handlers elsewhere call RequireActor, which also rejects a staff session
// that has not presented a second factor. Every handler here decides access
// with package policy. The endpoints on the caller's own account (/me,
// password, TOTP enrollment, sessions, sign-out) check account.read-self or
// account.update-self, which accept such a session. The account
// administration endpoints check account.manage, and invitations check
// invitation.create. The
// WebSocket hub authenticates with Service.Authenticate and closes sockets
// from the Service.OnRevoke hook.
//
// Secrets: passwords are hashed with argon2id (PHC strings carry their
// parameters, and hashes are upgraded at sign-in); session, challenge,
// invitation and reset tokens carry 256 random bits and only their SHA-256
// digests are stored; TOTP secrets are sealed with store.Sealer at
// "accounts/<id>/totp"; recovery codes are stored as SHA-256 digests.
// No token, password, code or secret is logged or audited.
//
// Caveats: throttling state per email and client address lives in memory
// and starts empty after a restart (account locks are stored). A client
// behind a proxy shares the proxy's address, see api.ClientAddr. The full
// endpoint list with fields, statuses and error codes is in docs/api.md.
package auth
