package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/auth"
	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/messaging"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/sfu"
	"github.com/bedside-health/bedside/signaling"
)

// services holds the domain services built from the store.
type services struct {
	audit  *audit.Log
	auth   *auth.Service
	clinic *clinic.Service
	sfu    *sfu.SFU
	msg    *messaging.Service
	hub    *signaling.Hub
	alerts *alertRelay
	notify *messageRelay
	log    *slog.Logger
}

// buildServices creates every service in dependency order: the audit log
// first, because every other service records through it, and the hub
// last, because it needs authentication, rooms and media.
func (s *Server) buildServices() error {
	sv := &s.services
	sv.alerts = &alertRelay{}
	sv.log = s.log
	auditCfg := s.cfg.Audit
	auditCfg.Registerer = s.registry
	var err error
	sv.audit, err = audit.New(auditCfg, audit.Deps{
		DB:         s.db,
		SigningKey: audit.SigningKey(s.key),
		Notifier:   sv.alerts,
		Logger:     s.log.With("component", "audit"),
		Now:        s.cfg.Now,
	})
	if err != nil {
		return err
	}
	sv.auth, err = auth.New(s.cfg.Auth, auth.Deps{
		DB:     s.db,
		Sealer: s.sealer,
		Audit:  sv.audit,
		Logger: s.log.With("component", "auth"),
		Now:    s.cfg.Now,
	})
	if err != nil {
		return sv.abort(err)
	}
	sv.clinic, err = clinic.New(s.cfg.Clinic, clinic.Deps{
		DB:     s.db,
		Sealer: s.sealer,
		Audit:  sv.audit,
		Logger: s.log.With("component", "clinic"),
		Users:  accountRoles{sv.auth},
		Now:    s.cfg.Now,
	})
	if err != nil {
		return sv.abort(err)
	}
	sv.notify = &messageRelay{}
	sv.msg, err = messaging.New(s.cfg.Messaging, messaging.Deps{
		DB:        s.db,
		DataDir:   s.cfg.DataDir,
		Directory: messaging.ClinicDirectory{Clinic: sv.clinic, DB: s.db},
		Names:     accountNames{sv.auth},
		Notifier:  sv.notify,
		Audit:     sv.audit,
		Logger:    s.log.With("component", "messaging"),
		Now:       s.cfg.Now,
	})
	if err != nil {
		return sv.abort(err)
	}
	mediaCfg := s.cfg.Media
	mediaCfg.Logger = s.log.With("component", "sfu")
	mediaCfg.Registerer = s.registry
	sv.sfu, err = sfu.New(mediaCfg)
	if err != nil {
		return sv.abort(fmt.Errorf("start media: %w; check --udp-port (0 picks a free port), "+
			"--media-interfaces and, on a host with only loopback, --media-loopback", err))
	}
	sigCfg := s.cfg.Signaling
	sigCfg.Authenticator = sessionAuth{sv.auth}
	sigCfg.Rooms = consultationRooms{sv.clinic}
	sigCfg.Media = mediaRelay{sv.sfu}
	sigCfg.Audit = sv.audit
	sigCfg.Logger = s.log.With("component", "signaling")
	sigCfg.Registerer = s.registry
	sigCfg.AllowedOrigins = s.cfg.AllowedOrigins
	sigCfg.Now = s.cfg.Now
	sv.hub, err = signaling.New(sigCfg)
	if err != nil {
		return sv.abort(err)
	}
	sv.alerts.hub.Store(sv.hub)
	sv.notify.hub.Store(sv.hub)
	sv.auth.OnRevoke(func(sessionID, _ string) { sv.hub.RevokeSession(sessionID) })
	sv.auth.OnInvite(sv.addInviterToCareTeam)
	return nil
}

// addInviterToCareTeam makes the clinician or nurse who invites a patient
// the first member of the patient's care team, so the two can book a
// consultation and message right away.
func (sv *services) addInviterToCareTeam(ctx context.Context, inviter policy.Actor, inv auth.Invitation) {
	if inv.Role != policy.RolePatient {
		return
	}
	if inviter.Role != policy.RoleClinician && inviter.Role != policy.RoleNurse {
		return
	}
	err := sv.clinic.AddInitialMember(ctx, inv.AccountID, inviter.UserID, inviter.Role)
	if errors.Is(err, clinic.ErrInvalid) {
		// A re-invited patient keeps the care team he already has.
		sv.log.Info("care team of invited patient left as it is", "patient", inv.AccountID, "reason", err)
		return
	}
	if err != nil {
		sv.log.Warn("could not add the inviter to the new patient's care team",
			"patient", inv.AccountID, "inviter", inviter.UserID, "err", err)
	}
}

// abort releases what buildServices created before err.
func (sv *services) abort(err error) error {
	sv.close(slog.New(slog.DiscardHandler))
	return err
}

// middleware wraps the router with the services' request middleware.
func (sv *services) middleware(next http.Handler) http.Handler {
	return sv.auth.Middleware(next)
}

func (sv *services) register(rt *api.Router) {
	sv.auth.Register(rt)
	sv.clinic.Register(rt)
	sv.msg.Register(rt)
	sv.audit.Register(rt)
	rt.Handle("GET /ws", sv.hub)
}

func (sv *services) registerControl(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/create-user", sv.controlCreateUser)
}

// started records the server start with its configuration and starts the
// background jobs, which stop when ctx ends.
func (sv *services) started(ctx context.Context, s *Server) {
	if err := sv.msg.Start(ctx); err != nil {
		s.log.Error("start message retention job", "err", err)
	}
	if n, err := sv.clinic.CompleteAbandoned(ctx, s.now()); err != nil {
		s.log.Error("complete consultations left in progress", "err", err)
	} else if n > 0 {
		s.log.Info("completed consultations left in progress by the last run", "count", n)
	}
	sv.audit.Record(ctx, audit.Event{
		Type:    audit.TypeServerStart,
		Outcome: audit.OutcomeSuccess,
		Detail: map[string]string{
			"addr": s.cfg.Addr,
			"tls":  boolString(s.cfg.TLSEnabled()),
		},
	})
}

// shutdown closes WebSocket peers with going-away, then media.
func (sv *services) shutdown(ctx context.Context, log *slog.Logger) {
	if sv.hub != nil {
		if err := sv.hub.Shutdown(ctx); err != nil {
			log.Warn("signaling shutdown incomplete", "err", err)
		}
	}
}

// close releases the services after the listeners have stopped; the audit
// log goes last so that it records everything before it.
func (sv *services) close(log *slog.Logger) {
	if sv.msg != nil {
		if err := sv.msg.Close(); err != nil {
			log.Warn("close messaging", "err", err)
		}
	}
	if sv.sfu != nil {
		if err := sv.sfu.Close(); err != nil {
			log.Warn("close media", "err", err)
		}
	}
	if sv.audit != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sv.audit.Close(ctx); err != nil {
			log.Error("close audit log", "err", err)
		}
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// now returns the current time from Config.Now, or the wall clock.
func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}
