//go:build !unix

package client

// lockDir does nothing where flock is not available.
// TODO(client): lock the state directory on non-Unix systems; until then
// two processes on one state directory may overwrite each other's state.
func lockDir(string) (func(), error) { return func() {}, nil }
