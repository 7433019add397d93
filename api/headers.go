package api

import (
	"net"
	"net/http"
	"net/netip"
)

// ContentSecurityPolicy allows scripts, styles and media from the app's own
// origin only, with no inline script, and WebSocket connections back to it.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'"

// PermissionsPolicy lets only the app's own origin use the camera and
// microphone, and nobody the other powerful features.
const PermissionsPolicy = "camera=(self), microphone=(self), geolocation=(), " +
	"payment=(), usb=(), display-capture=()"

// SecurityHeaders sets the hardening headers on every response: CSP,
// nosniff, no framing, no referrer, the permissions policy and, when tls is
// true, HSTS for two years.
func SecurityHeaders(tls bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", PermissionsPolicy)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if tls {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// LimitBody caps every request body at max bytes; handlers that accept
// larger bodies (attachment chunks) set their own limit below this one.
func LimitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			WriteError(w, r, nil, &Error{
				Status:  http.StatusRequestEntityTooLarge,
				Code:    "body_too_large",
				Message: "the request body exceeds the server's limit",
			})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// ClientAddr returns the client's IP address, without port. Forwarding
// headers are ignored: behind a proxy, every client shares the proxy's
// address for throttling purposes.
//
// TODO(api): trust X-Forwarded-For from a configured proxy address so
// per-address throttling works behind a TLS-terminating proxy.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}
