package messaging

import (
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Register adds the messaging endpoints to rt. Every handler requires the
// actor that the authentication middleware puts in the request context.
// docs/api.md describes each endpoint.
func (s *Service) Register(rt *api.Router) {
	rt.HandleFunc("POST /api/v1/devices", s.handle(s.handleRegisterDevice))
	rt.HandleFunc("PUT /api/v1/device-list", s.handle(s.handlePublishDeviceList))
	rt.HandleFunc("GET /api/v1/users/{user}/devices", s.handle(s.handleListDevices))
	rt.HandleFunc("DELETE /api/v1/devices/{device}", s.handle(s.handleRevokeOwnDevice))
	rt.HandleFunc("DELETE /api/v1/users/{user}/devices/{device}", s.handle(s.handleRevokeDevice))

	rt.HandleFunc("GET /api/v1/conversations", s.handle(s.handleListConversations))
	rt.HandleFunc("GET /api/v1/conversations/{id}", s.handle(s.handleGetConversation))
	rt.HandleFunc("DELETE /api/v1/conversations/{id}", s.handle(s.handleDeleteConversation))
	rt.HandleFunc("POST /api/v1/conversations/{id}/messages", s.handle(s.handleSend))
	rt.HandleFunc("GET /api/v1/conversations/{id}/messages", s.handle(s.handleFetch))
	rt.HandleFunc("POST /api/v1/conversations/{id}/delivered", s.handle(s.handleDelivered))
	rt.HandleFunc("POST /api/v1/conversations/{id}/read", s.handle(s.handleRead))

	rt.HandleFunc("POST /api/v1/attachments", s.handle(s.handleCreateUpload))
	rt.HandleFunc("GET /api/v1/attachments/{id}/upload", s.handle(s.handleUploadStatus))
	rt.HandleFunc("PUT /api/v1/attachments/{id}/chunks", s.handle(s.handleChunk))
	rt.HandleFunc("POST /api/v1/attachments/{id}/complete", s.handle(s.handleComplete))
	rt.HandleFunc("GET /api/v1/attachments/{id}", s.handle(s.handleDownload))
}

// handlerFunc is an endpoint handler that receives its caller. It writes its own
// success response and returns any failure for handle to write.
type handlerFunc func(w http.ResponseWriter, r *http.Request, actor policy.Actor) error

// handle turns fn into an http.HandlerFunc: it responds with
// api.Unauthorized when the request has no actor and writes fn's error in the one error
// shape.
func (s *Service) handle(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor, ok := policy.ActorFrom(r.Context())
		if !ok {
			api.WriteError(w, r, s.log, api.Unauthorized())
			return
		}
		if err := fn(w, r, actor); err != nil {
			api.WriteError(w, r, s.log, err)
		}
	}
}

// callerDevice returns the current device named by DeviceHeader, which
// must belong to actor.
func (s *Service) callerDevice(r *http.Request, actor policy.Actor) (*store.Device, error) {
	id := r.Header.Get(DeviceHeader)
	if id == "" {
		return nil, errDeviceRequired()
	}
	if len(id) > e2ee.MaxIDLength {
		return nil, errUnknownDevice()
	}
	d, err := s.db.Device(actor.UserID, id)
	if errors.Is(err, store.ErrNotFound) {
		s.warn(r.Context(), "request from an unknown device",
			slog.String("user", actor.UserID), slog.String("route", r.Pattern))
		return nil, errUnknownDevice()
	}
	if err != nil {
		return nil, err
	}
	if d.Revoked() {
		s.warn(r.Context(), "request from a revoked device",
			slog.String("user", actor.UserID), slog.String("device", d.DeviceID))
		return nil, errDeviceRevoked()
	}
	return d, nil
}

// requireMediaType checks the request's Content-Type.
func requireMediaType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return errMediaType(want)
	}
	return nil
}

// queryUint parses an optional non-negative integer query parameter.
func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, api.BadRequest("invalid_query",
			"query parameter "+name+" must be a non-negative decimal integer, got "+strconv.Quote(truncate(raw)))
	}
	return v, nil
}
