package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// DeviceHeader is the request header that names the sending device.
const DeviceHeader = "X-Bedside-Device"

// maxResponseBytes bounds a JSON response body the client reads. A page of
// messages is at most 4 MiB of ciphertext on a default server, which base64
// and JSON grow by a third.
const maxResponseBytes = 8 << 20

// Config configures a Client. StateDir is required; ServerURL may be empty
// when the state file remembers the server from an earlier Login.
type Config struct {
	// ServerURL is the base URL of the Bedside server, such as
	// https://clinic.example. Plain http is accepted only for loopback
	// hosts.
	ServerURL string
	// StateDir holds the state file and the key files. It is created with
	// mode 0700.
	StateDir string
	// InsecureSkipVerify accepts any TLS certificate. Use it only for a
	// server's self-signed development certificate.
	InsecureSkipVerify bool
	// TrustNewDevices lets Send seal to devices a correspondent added since
	// the client last accepted the device list. Devices without a valid
	// certificate are never sealed to.
	TrustNewDevices bool
	// HTTPClient replaces the default HTTP client (tests).
	HTTPClient *http.Client
	// DialContext opens the TCP connections of the signaling WebSocket;
	// nil uses a net.Dialer. Tests use it to cut a connection without a
	// close frame.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives debug messages; nil discards them. It never receives
	// tokens, keys or content.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Client speaks the Bedside HTTP API and WebSocket protocol for one
// account and one device. Its methods are safe for concurrent use within
// one process; only one process should use a state directory at a time,
// and Open takes a lock to enforce that.
type Client struct {
	cfg    Config
	base   *url.URL
	http   *http.Client
	log    *slog.Logger
	unlock func()

	mu       sync.Mutex
	st       *state
	keys     *e2ee.DeviceKeys // nil before the device exists
	identity *e2ee.Identity   // nil on devices without the identity key
	replay   *e2ee.ReplayGuard
}

// Open loads the state directory and returns a client. It fails with
// ErrUnsafePermissions when the directory or a file in it is open to other
// users, and when another process holds the directory's lock.
func Open(cfg Config) (*Client, error) {
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("client: empty state directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := ensureStateDir(cfg.StateDir); err != nil {
		return nil, err
	}
	unlock, err := lockDir(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: cfg.Logger, unlock: unlock, replay: e2ee.NewReplayGuard(e2ee.DefaultReplayCapacity)}
	if err := c.load(); err != nil {
		unlock()
		return nil, err
	}
	return c, nil
}

func (c *Client) load() error {
	st, err := loadState(c.cfg.StateDir)
	if err != nil {
		return err
	}
	c.st = st
	if c.keys, err = loadDeviceKeys(c.cfg.StateDir); err != nil {
		return err
	}
	if c.identity, err = loadIdentity(c.cfg.StateDir); err != nil {
		return err
	}
	if len(st.Replay) > 0 {
		if err := c.replay.UnmarshalBinary(st.Replay); err != nil {
			return fmt.Errorf("replay guard in the state file: %w", err)
		}
	}
	server := c.cfg.ServerURL
	if server == "" {
		server = st.Server
	}
	if server != "" {
		if err := c.setServer(server); err != nil {
			return err
		}
	}
	return nil
}

// setServer checks and stores the server's base URL. A different server
// than the one in the state file is rejected, because the keys and the
// trust store belong to that server's accounts.
func (c *Client) setServer(raw string) error {
	u, err := ParseServerURL(raw)
	if err != nil {
		return err
	}
	if c.st.Server != "" && c.st.Server != u.String() {
		return fmt.Errorf("this state directory belongs to %s, not %s: use another --state-dir",
			c.st.Server, u.String())
	}
	c.base = u
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if c.cfg.InsecureSkipVerify {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // G402: opt-in for the development certificate, with a warning in the CLI
	}
	c.http = c.cfg.HTTPClient
	if c.http == nil {
		c.http = &http.Client{Transport: transport, Timeout: 0}
	}
	return nil
}

// ParseServerURL checks a server base URL: https, or http on a loopback
// host, with no path, query or credentials.
func ParseServerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("invalid server URL %q: use https://host[:port]", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("server URL %q: %w: plain http is allowed only on loopback; use https",
				raw, ErrInsecureServer)
		}
	default:
		return nil, fmt.Errorf("invalid server URL %q: the scheme must be https", raw)
	}
	u.Path = ""
	return u, nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// Close saves the state and releases the state directory.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.saveLocked()
	if c.http != nil {
		c.http.CloseIdleConnections()
	}
	if c.unlock != nil {
		c.unlock()
		c.unlock = nil
	}
	return err
}

// saveLocked writes the state file. The caller holds c.mu.
func (c *Client) saveLocked() error {
	raw, err := c.replay.MarshalBinary()
	if err != nil {
		return err
	}
	c.st.Replay = raw
	return c.st.save(c.cfg.StateDir)
}

// UserID returns the signed-in account's id, or "" before Login.
func (c *Client) UserID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.UserID
}

// DeviceID returns this device's id, or "" before it exists.
func (c *Client) DeviceID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.DeviceID
}

// ServerURL returns the server's base URL, or "" when none is known.
func (c *Client) ServerURL() string {
	if c.base == nil {
		return ""
	}
	return c.base.String()
}

// request is one API call.
type request struct {
	method      string
	path        string // with query string
	body        any    // JSON-encoded unless bodyReader is set
	bodyReader  io.Reader
	contentType string
	header      http.Header
	noAuth      bool
	device      bool // send the device header
}

// do sends req and returns the response. An error status becomes an
// *APIError; the caller closes the body of a success.
func (c *Client) do(ctx context.Context, req request) (*http.Response, error) {
	if c.base == nil {
		return nil, fmt.Errorf("no server URL: give --server on the first login")
	}
	var body io.Reader = http.NoBody
	contentType := req.contentType
	switch {
	case req.bodyReader != nil:
		body = req.bodyReader
	case req.body != nil:
		raw, err := json.Marshal(req.body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body, contentType = bytes.NewReader(raw), "application/json"
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, c.base.String()+req.path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "bedside-client")
	if !req.noAuth {
		token, device := c.credentials()
		if token == "" {
			return nil, fmt.Errorf("%w: run login first", ErrAuthRequired)
		}
		hr.Header.Set("Authorization", "Bearer "+token)
		if req.device {
			if device == "" {
				return nil, fmt.Errorf("%w: run login to create this device's keys", ErrNoDevice)
			}
			hr.Header.Set(DeviceHeader, device)
		}
	}
	c.log.Debug("request", "method", req.method, "path", redactPath(req.path))
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.method, redactPath(req.path), err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, decodeAPIError(resp)
	}
	return resp, nil
}

// redactPath drops the query string, which never holds secrets but may
// hold ids the debug log need not repeat.
func redactPath(p string) string {
	path, _, _ := strings.Cut(p, "?")
	return path
}

func (c *Client) credentials() (token, device string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Session != nil {
		token = c.st.Session.Token
	}
	if !c.st.Pending {
		device = c.st.DeviceID
	}
	return token, device
}

// doJSON sends req and decodes a JSON response into out (unless out is nil).
func (c *Client) doJSON(ctx context.Context, req request, out any) error {
	resp, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", req.method, redactPath(req.path), err)
	}
	return nil
}

func decodeAPIError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	e := &APIError{Status: resp.StatusCode}
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Details = body.Error.Code, body.Error.Message, body.Error.Details
	} else {
		e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
	}
	return e
}

// tlsConfig returns the TLS settings of the WebSocket dialer.
func (c *Client) tlsConfig() *tls.Config {
	if c.cfg.InsecureSkipVerify {
		return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // G402: see Config.InsecureSkipVerify
	}
	return nil
}

// StateDir returns the state directory.
func (c *Client) StateDir() string { return c.cfg.StateDir }
