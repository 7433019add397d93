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
	rt.HandleFunc("POST /api/v1/devices", s.handle(policy.ActionDeviceRegisterOwn, s.handleRegisterDevice))
	rt.HandleFunc("PUT /api/v1/device-list", s.handle(policy.ActionDeviceRegisterOwn, s.handlePublishDeviceList))
	rt.HandleFunc("GET /api/v1/users/{user}/devices", s.handle(policy.ActionDeviceList, s.handleListDevices))
	rt.HandleFunc("DELETE /api/v1/devices/{device}", s.handle(policy.ActionDeviceRevoke, s.handleRevokeOwnDevice))
	rt.HandleFunc("DELETE /api/v1/users/{user}/devices/{device}",
		s.handle(policy.ActionDeviceRevoke, s.handleRevokeDevice))

	read := policy.ActionConversationRead
	rt.HandleFunc("GET /api/v1/conversations", s.handle(read, s.handleListConversations))
	rt.HandleFunc("GET /api/v1/conversations/{id}", s.handle(read, s.handleGetConversation))
	rt.HandleFunc("DELETE /api/v1/conversations/{id}",
		s.handle(policy.ActionConversationDelete, s.handleDeleteConversation))
	rt.HandleFunc("POST /api/v1/conversations/{id}/messages", s.handle(policy.ActionConversationPost, s.handleSend))
	rt.HandleFunc("GET /api/v1/conversations/{id}/messages", s.handle(read, s.handleFetch))
	rt.HandleFunc("GET /api/v1/conversations/{id}/members", s.handle(read, s.handleMembers))
	rt.HandleFunc("POST /api/v1/conversations/{id}/delivered", s.handle(read, s.handleDelivered))
	rt.HandleFunc("POST /api/v1/conversations/{id}/read", s.handle(read, s.handleRead))

	upload := policy.ActionAttachmentUpload
	rt.HandleFunc("POST /api/v1/attachments", s.handle(upload, s.handleCreateUpload))
	rt.HandleFunc("GET /api/v1/attachments/{id}/upload", s.handle(upload, s.handleUploadStatus))
	rt.HandleFunc("PUT /api/v1/attachments/{id}/chunks", s.handle(upload, s.handleChunk))
	rt.HandleFunc("POST /api/v1/attachments/{id}/complete", s.handle(upload, s.handleComplete))
	rt.HandleFunc("GET /api/v1/attachments/{id}", s.handle(policy.ActionAttachmentDownload, s.handleDownload))
}

// handlerFunc is an endpoint handler that receives its caller. It writes
// its own success response and returns any failure for handle to write.
type handlerFunc func(w http.ResponseWriter, r *http.Request, actor policy.Actor) error

// handle turns fn, the endpoint of action, into an http.HandlerFunc. It
// responds with api.Unauthorized when the request has no actor, and runs
// the policy's checks that need no lookup (a known role, the second factor
// of a staff session) before fn touches anything. fn still checks the
// specific resource with the directory. Errors are written in the one
// error shape.
func (s *Service) handle(action policy.Action, fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor, ok := policy.ActorFrom(r.Context())
		if !ok {
			api.WriteError(w, r, s.log, api.Unauthorized())
			return
		}
		if d, ok := policy.Precheck(actor, action, policy.Resource{}); !ok {
			api.WriteError(w, r, s.log, d.Err())
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
