// Package cli is the command-line client of Bedside (cmd/bedside-client):
// subcommands over package client for signing in, managing devices,
// sending and reading end-to-end encrypted messages and files, comparing
// safety numbers and joining a consultation as a headless media peer.
// Main parses the command line and returns the exit code; docs/client.md
// lists the commands.
package cli
