package main

import (
	"flag"

	"github.com/bedside-health/bedside/server"
)

// registerServiceFlags adds the flags of the domain services to the serve
// command.
func registerServiceFlags(fs *flag.FlagSet, cfg *server.Config) {}
