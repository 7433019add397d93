package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func testApp() fstest.MapFS {
	return fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><title>app</title>")},
		"assets/main-abc.js":  {Data: []byte("console.log(1)")},
		"assets/main-abc.css": {Data: []byte("body{}")},
		"favicon.svg":         {Data: []byte("<svg/>")},
		".gitkeep":            {Data: nil},
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerRoutes(t *testing.T) {
	h, err := Handler(testApp())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, target string
		status               int
		contentType, cache   string
		bodyHas              string
	}{
		{"root", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", "<title>app</title>"},
		{"index by name", "GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", "<title>app</title>"},
		{"app route", "GET", "/consultations/abc/call", 200, "text/html; charset=utf-8", "no-cache", "<title>app</title>"},
		{"script", "GET", "/assets/main-abc.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "console.log"},
		{"style", "GET", "/assets/main-abc.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "body{}"},
		{"unhashed file", "GET", "/favicon.svg", 200, "image/svg+xml", "no-cache", "<svg/>"},
		{"head", "HEAD", "/", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"missing asset", "GET", "/assets/gone-123.js", 404, "text/plain; charset=utf-8", "", "file not found"},
		{"hidden file", "GET", "/.gitkeep", 404, "text/plain; charset=utf-8", "", "file not found"},
		{"unmatched api", "GET", "/api/v1/nothing", 404, "application/json; charset=utf-8", "no-store", `"not_found"`},
		{"unmatched ws", "GET", "/ws", 404, "application/json; charset=utf-8", "no-store", `"not_found"`},
		{"dot segments", "GET", "/assets/../index.html", 200, "text/html; charset=utf-8", "no-cache", "<title>app</title>"},
		{"post", "POST", "/", 405, "application/json; charset=utf-8", "no-store", "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, tt.method, tt.target, nil)
			if rec.Code != tt.status {
				t.Fatalf("got status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("got Content-Type %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("got Cache-Control %q, want %q", got, tt.cache)
			}
			if !strings.Contains(rec.Body.String(), tt.bodyHas) {
				t.Errorf("got body %q, want it to contain %q", rec.Body.String(), tt.bodyHas)
			}
		})
	}
}

func TestHandlerETag(t *testing.T) {
	h, err := Handler(testApp())
	if err != nil {
		t.Fatal(err)
	}
	first := get(t, h, "GET", "/assets/main-abc.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("got no ETag, want one")
	}
	again := get(t, h, "GET", "/assets/main-abc.js", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified {
		t.Errorf("got status %d for a matching If-None-Match, want 304", again.Code)
	}
	other := get(t, h, "GET", "/assets/main-abc.css", nil)
	if other.Header().Get("ETag") == etag {
		t.Errorf("got the same ETag %s for two different files", etag)
	}
}

func TestHandlerNotBuilt(t *testing.T) {
	h, err := Handler(fstest.MapFS{".gitkeep": {Data: nil}})
	if err != nil {
		t.Fatal(err)
	}
	rec := get(t, h, "GET", "/signin", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), "make build") {
		t.Errorf("got body %q, want the build instructions", rec.Body.String())
	}
	if Built(fstest.MapFS{".gitkeep": {}}) {
		t.Error("Built reported true for a placeholder-only directory")
	}
	if !Built(testApp()) {
		t.Error("Built reported false for a built app")
	}
}

func TestEmbeddedFilesCompile(t *testing.T) {
	// The embedded directory exists whether or not the app was built.
	if _, err := Handler(Files()); err != nil {
		t.Fatalf("Handler(Files()): %v", err)
	}
	h := MustHandler()
	if rec := get(t, h, "GET", "/", nil); rec.Code != http.StatusOK {
		t.Errorf("got status %d for /, want 200", rec.Code)
	}
}
