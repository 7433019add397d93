package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/bedside-health/bedside/api"
)

// services holds the domain services built from the store. Each is added
// here as it is wired.
type services struct{}

func (s *Server) buildServices() error { return nil }

func (sv *services) register(rt *api.Router) {}

func (sv *services) registerControl(mux *http.ServeMux) {}

func (sv *services) started(ctx context.Context, s *Server) {}

func (sv *services) shutdown(ctx context.Context, log *slog.Logger) {}

func (sv *services) close(log *slog.Logger) {}
