package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRouterMethodNotAllowedJSON checks that a known path called with
// another method gets 405 in the JSON error shape, with the Allow header.
func TestRouterMethodNotAllowedJSON(t *testing.T) {
	rt := NewRouter(nil)
	rt.HandleFunc("POST /api/v1/things", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodOptions} {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(method, "/api/v1/things", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: got status %d, want 405", method, rec.Code)
		}
		if allow := rec.Header().Get("Allow"); allow != "POST" {
			t.Errorf("%s: got Allow %q, want POST", method, allow)
		}
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "method_not_allowed" {
			t.Errorf("%s: got body %q, want the JSON error method_not_allowed", method, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/things", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("POST: got status %d, want 204", rec.Code)
	}
}

// TestRouterFallback checks that only unmatched GET and HEAD requests
// reach the fallback handler.
func TestRouterFallback(t *testing.T) {
	rt := NewRouter(nil)
	rt.HandleFunc("POST /api/v1/things", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	rt.SetFallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/some/page", http.StatusTeapot},
		{http.MethodHead, "/some/page", http.StatusTeapot},
		{http.MethodPost, "/some/page", http.StatusNotFound},
		{http.MethodDelete, "/some/page", http.StatusNotFound},
		{http.MethodGet, "/api/v1/things", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, rec.Code, tt.status)
		}
	}
}
