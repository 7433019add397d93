package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/auth"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// CreateUserRequest is the body of the control socket's create-user call.
type CreateUserRequest struct {
	Email       string `json:"email"`
	Role        string `json:"role"`
	DisplayName string `json:"display_name"`
}

func (sv *services) controlCreateUser(w http.ResponseWriter, r *http.Request) {
	var req CreateUserRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&req); err != nil {
		writeControlError(w, http.StatusBadRequest, fmt.Errorf("invalid request: %w", err))
		return
	}
	inv, err := createUser(r.Context(), sv.auth, req)
	if err != nil {
		writeControlError(w, http.StatusBadRequest, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(inv)
}

func createUser(ctx context.Context, a *auth.Service, req CreateUserRequest) (auth.Invitation, error) {
	role, err := policy.ParseRole(req.Role)
	if err != nil {
		return auth.Invitation{}, err
	}
	return a.CreateUser(ctx, req.Email, role, req.DisplayName)
}

// CreateUser creates an account in the data directory dir and returns its
// one-time enrollment token, through the running server when there is one.
func CreateUser(ctx context.Context, cfg Config, req CreateUserRequest) (auth.Invitation, error) {
	c, err := DialControl(cfg.DataDir)
	if err == nil {
		body, _ := json.Marshal(req)
		resp, err := c.Do(ctx, http.MethodPost, "/admin/create-user", bytesReader(body))
		if err != nil {
			return auth.Invitation{}, err
		}
		defer resp.Body.Close()
		var inv auth.Invitation
		if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil {
			return auth.Invitation{}, fmt.Errorf("read server response: %w", err)
		}
		return inv, nil
	}
	if !errors.Is(err, ErrNotRunning) {
		return auth.Invitation{}, err
	}
	srv, err := openOffline(cfg)
	if err != nil {
		return auth.Invitation{}, err
	}
	defer srv.Close()
	return createUser(ctx, srv.services.auth, req)
}

// openOffline builds the services without listening, for operator
// commands while no server runs.
func openOffline(cfg Config) (*Server, error) {
	cfg.Media.UDPPort = 0
	cfg.Media.AllowLoopback = true
	cfg.Media.Interfaces = []string{"lo"}
	return New(cfg, nil)
}

func (s *Server) controlAuditVerify(w http.ResponseWriter, r *http.Request) {
	if err := s.services.audit.Flush(r.Context()); err != nil {
		writeControlError(w, http.StatusInternalServerError, err)
		return
	}
	rep, err := audit.Verify(s.db, audit.PublicKey(s.key))
	if err != nil {
		writeControlError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

func (s *Server) controlAuditExport(w http.ResponseWriter, r *http.Request) {
	since, err := time.Parse(time.RFC3339, r.URL.Query().Get("since"))
	if err != nil {
		writeControlError(w, http.StatusBadRequest, fmt.Errorf("invalid since: %w", err))
		return
	}
	if err := s.services.audit.Flush(r.Context()); err != nil {
		writeControlError(w, http.StatusInternalServerError, err)
		return
	}
	s.services.audit.Record(r.Context(), audit.Event{
		Type:    audit.TypeAuditExport,
		Outcome: audit.OutcomeSuccess,
		Detail:  map[string]string{"via": "control socket"},
	})
	w.Header().Set("Content-Type", "application/x-ndjson")
	if err := audit.Export(r.Context(), s.db, w, since); err != nil {
		s.log.Error("audit export through control socket failed", "err", err)
	}
}

// VerifyAudit checks the audit trail of the data directory in cfg.
func VerifyAudit(ctx context.Context, cfg Config) (audit.Report, error) {
	c, err := DialControl(cfg.DataDir)
	if err == nil {
		resp, err := c.Do(ctx, http.MethodGet, "/audit/verify", nil)
		if err != nil {
			return audit.Report{}, err
		}
		defer resp.Body.Close()
		var rep audit.Report
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
			return audit.Report{}, fmt.Errorf("read server response: %w", err)
		}
		return rep, nil
	}
	if !errors.Is(err, ErrNotRunning) {
		return audit.Report{}, err
	}
	db, key, err := openReadOnly(cfg)
	if err != nil {
		return audit.Report{}, err
	}
	defer db.Close()
	return audit.Verify(db, audit.PublicKey(key))
}

// ExportAudit writes the audit records since the given time as JSON lines.
func ExportAudit(ctx context.Context, cfg Config, w io.Writer, since time.Time) error {
	c, err := DialControl(cfg.DataDir)
	if err == nil {
		q := url.Values{"since": {since.UTC().Format(time.RFC3339)}}
		resp, err := c.Do(ctx, http.MethodGet, "/audit/export?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(w, resp.Body)
		return err
	}
	if !errors.Is(err, ErrNotRunning) {
		return err
	}
	db, _, err := openReadOnly(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// TODO(audit): an export while no server runs cannot append its own
	// audit record, because the database is opened read-only.
	return audit.Export(ctx, db, w, since)
}

func openReadOnly(cfg Config) (*store.DB, *store.ServerKey, error) {
	keyPath := cfg.KeyFile
	if keyPath == "" {
		keyPath = cfg.DataDir + "/" + store.KeyFileName
	}
	key, err := store.LoadKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(cfg.DataDir, store.Options{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	return db, key, nil
}
