package api

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Router is an http.ServeMux whose handlers are counted in Prometheus by
// route pattern and status code. Register every route through Handle or
// HandleFunc; the patterns use net/http's syntax ("POST /api/v1/login").
type Router struct {
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu       sync.Mutex
	patterns []string
	fallback http.Handler
}

// NewRouter returns a Router that registers its metrics on reg; a nil reg
// keeps the metrics unregistered.
func NewRouter(reg prometheus.Registerer) *Router {
	rt := &Router{
		mux: http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bedside_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bedside_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(rt.requests, rt.duration)
	}
	return rt
}

// Handle registers h for pattern.
func (rt *Router) Handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, rt.instrument(pattern, h))
	rt.mu.Lock()
	rt.patterns = append(rt.patterns, pattern)
	rt.mu.Unlock()
}

// Patterns returns the registered patterns in registration order, so that
// tests can require every route to be covered. The caller owns the slice.
func (rt *Router) Patterns() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return slices.Clone(rt.patterns)
}

// SetFallback makes h answer the GET and HEAD requests that match no route,
// such as the pages of the web app. Other unmatched requests keep the JSON
// not-found error, and a known path with another method keeps its 405.
// Call it before serving.
func (rt *Router) SetFallback(h http.Handler) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.fallback = h
}

// HandleFunc registers f for pattern.
func (rt *Router) HandleFunc(pattern string, f http.HandlerFunc) {
	rt.Handle(pattern, f)
}

// ServeHTTP dispatches to the registered handlers. Requests that match no
// route get the JSON not-found error, or the fallback's answer, and count
// under route "unmatched" or "fallback". A known path with another method
// gets 405 in the JSON error shape with the Allow header.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern == "" {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		route := "unmatched"
		rt.mu.Lock()
		fallback := rt.fallback
		rt.mu.Unlock()
		switch allow, mismatch := methodMismatch(h, r); {
		case mismatch:
			sw.Header().Set("Allow", allow)
			WriteError(sw, r, nil, &Error{
				Status:  http.StatusMethodNotAllowed,
				Code:    "method_not_allowed",
				Message: fmt.Sprintf("%s is not accepted on this path: use %s", r.Method, allow),
			})
		case r.Method == http.MethodOptions:
			h.ServeHTTP(sw, r)
		case fallback != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			route = "fallback"
			fallback.ServeHTTP(sw, r)
		default:
			WriteError(sw, r, nil, NotFound())
		}
		rt.observe(route, sw.status, start)
		return
	}
	rt.mux.ServeHTTP(w, r)
}

// methodMismatch reports whether the mux found the path but not the
// method, and returns the methods the path accepts, from the mux's Allow
// header.
func methodMismatch(h http.Handler, r *http.Request) (allow string, mismatch bool) {
	rec := &headerProbe{header: http.Header{}}
	h.ServeHTTP(rec, r.Clone(r.Context()))
	return rec.header.Get("Allow"), rec.status == http.StatusMethodNotAllowed
}

func (rt *Router) instrument(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		rt.observe(pattern, sw.status, start)
	})
}

func (rt *Router) observe(route string, status int, start time.Time) {
	rt.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	rt.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
}

// statusWriter records the status code written through it. It passes
// Unwrap to http.ResponseController so WebSocket upgrades and flushes work.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a WebSocket upgrader, which asserts
// http.Hijacker directly instead of using http.ResponseController.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.status = http.StatusSwitchingProtocols
		w.wroteHeader = true
	}
	return conn, rw, err
}

// Flush sends buffered data to the client.
func (w *statusWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// headerProbe discards a response and keeps its status.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }
