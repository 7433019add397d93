package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
)

// Error is an error a client may see: an HTTP status, a stable
// machine-readable code and a message saying what was wrong and what to do.
// It is written as {"error": {"code": "...", "message": "..."}} and may
// carry extra fields under "details".
type Error struct {
	Status  int
	Code    string
	Message string
	Details any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf-free constructors for the common statuses. Authentication failures
// all use Unauthorized with the same message, so they look alike.
func BadRequest(code, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: msg}
}

// Unauthorized is the one answer for any failed authentication.
func Unauthorized() *Error {
	return &Error{
		Status:  http.StatusUnauthorized,
		Code:    "unauthenticated",
		Message: "sign in again: the credentials or session are invalid or expired",
	}
}

// Forbidden reports an authenticated caller without permission.
func Forbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: msg}
}

// NotFound reports a missing resource, and also a resource the caller may
// not know exists.
func NotFound() *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"}
}

// Conflict reports a state conflict such as a duplicate or a stale version.
func Conflict(code, msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: msg}
}

// TooManyRequests reports throttling.
func TooManyRequests(msg string) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: msg}
}

// Internal is what clients see for any server fault.
func Internal() *Error {
	return &Error{
		Status:  http.StatusInternalServerError,
		Code:    "internal",
		Message: "internal server error; try again later",
	}
}

type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// WriteError writes err in the one error shape. An error that is not an
// *Error is logged at error level with the route and shown to the client
// as Internal.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if log != nil {
			log.LogAttrs(r.Context(), slog.LevelError, "request failed",
				slog.String("route", r.Pattern), slog.String("err", err.Error()))
		}
		e = Internal()
	}
	if e.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "60")
	}
	WriteJSON(w, e.Status, errorBody{Error: errorFields{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}
