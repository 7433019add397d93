package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/bedside-health/bedside/api"
)

// dist is the output of `npm run build`. A fresh clone contains only
// dist/.gitkeep, so the package compiles before npm has run and then serves
// a page that explains how to build the app.
//
//go:embed all:dist
var dist embed.FS

// indexFile is the app's entry page, served for every route of the app.
const indexFile = "index.html"

// assetsDir contains the files whose names carry a content hash, so they may
// be cached for a year.
const assetsDir = "assets/"

// contentTypes maps the extensions the build emits to their media types.
// The table is explicit so that responses do not depend on the host's
// /etc/mime.types, because nosniff makes browsers trust the header.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".jpg":         "image/jpeg",
	".webp":        "image/webp",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
	".wasm":        "application/wasm",
}

// notBuiltPage is served in place of the app when dist contains no index.html.
const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bedside</title></head>
<body><h1>The web app is not built</h1>
<p>This bedside binary was built without the web app. Run <code>make build</code>
(which runs <code>npm ci</code> and <code>npm run build</code> in clients/web) and start the
server again. The HTTP API and WebSocket work without it.</p></body></html>
`

// Files returns the built app rooted at its top directory. It contains only a
// placeholder file when `go build` ran before the app was built.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("web: embedded dist directory missing: " + err.Error())
	}
	return sub
}

// Built reports whether files contains a built app.
func Built(files fs.FS) bool {
	_, err := fs.Stat(files, indexFile)
	return err == nil
}

// file is one response body prepared at start.
type file struct {
	data        []byte
	contentType string
	etag        string
	immutable   bool
}

// Handler serves the single-page app in files:
//
//   - a file that exists is served with its media type and an ETag, and
//     files under assets/ (content-hashed names) are cacheable for a year;
//   - a path under /api/ or equal to /ws that reached this handler matched
//     no route and gets the API's JSON not-found error;
//   - any other path without a file extension is a route of the app and
//     gets index.html, which is never cached so a new build shows at once;
//   - a missing path with an extension gets 404.
//
// Only GET and HEAD are served. The handler reads every file once, at
// construction, and is safe for concurrent use. It returns an error when
// files cannot be read.
func Handler(files fs.FS) (http.Handler, error) {
	h := &handler{files: map[string]*file{}}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(path.Base(name), ".") {
			return nil
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		h.files[name] = newFile(name, data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded web app: %w", err)
	}
	h.index = h.files[indexFile]
	if h.index == nil {
		h.index = newFile(indexFile, []byte(notBuiltPage))
	}
	return h, nil
}

// MustHandler is Handler for the embedded app, which is readable by
// construction; it panics only if the embedded files are broken.
func MustHandler() http.Handler {
	h, err := Handler(Files())
	if err != nil {
		panic("web: " + err.Error())
	}
	return h
}

func newFile(name string, data []byte) *file {
	sum := sha256.Sum256(data)
	ct := contentTypes[strings.ToLower(path.Ext(name))]
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &file{
		data:        data,
		contentType: ct,
		etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
		immutable:   strings.HasPrefix(name, assetsDir),
	}
}

type handler struct {
	files map[string]*file
	index *file
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		api.WriteError(w, r, nil, &api.Error{
			Status:  http.StatusMethodNotAllowed,
			Code:    "method_not_allowed",
			Message: "the web app is served with GET and HEAD only",
		})
		return
	}
	p := r.URL.Path
	if p == "/api" || strings.HasPrefix(p, "/api/") || p == "/ws" {
		api.WriteError(w, r, nil, api.NotFound())
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if f, ok := h.files[name]; ok {
		serve(w, r, name, f)
		return
	}
	if path.Ext(name) != "" {
		http.Error(w, "file not found", http.StatusNotFound)
		return
	}
	serve(w, r, indexFile, h.index)
}

func serve(w http.ResponseWriter, r *http.Request, name string, f *file) {
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	if f.immutable {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	// ServeContent handles If-None-Match and Range requests using the ETag.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}
