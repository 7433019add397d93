// Package tamper is a test double of a malicious Bedside server: an
// http.Handler that wraps the real server's handler and changes its
// responses the way a compromised server could. Every attack is off until
// armed, so the handler is a transparent proxy by default. It exists to
// show that package client detects each attack; it is only for tests.
package tamper

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"

	"github.com/bedside-health/bedside/e2ee"
)

// Attack names one way of tampering.
type Attack string

// The attacks. Each applies to the user or conversation it was armed for.
const (
	// AddDevice adds a device with fresh keys that no identity key
	// certified to a user's devices response.
	AddDevice Attack = "add-device"
	// SwapKey replaces the HPKE key of a user's first device in the
	// devices response, outside the signed list.
	SwapKey Attack = "swap-key"
	// SwapListKey changes the HPKE key inside the first certificate of
	// the signed device list, breaking its signatures.
	SwapListKey Attack = "swap-list-key"
	// RollbackList serves the first device list the proxy saw for the
	// user instead of the current one.
	RollbackList Attack = "rollback-list"
	// ReplayMessage serves the first message the proxy delivered in a
	// conversation again, under the next sequence number.
	ReplayMessage Attack = "replay-message"
	// DropEnvelope removes the fetching device's envelope from every
	// message it fetches.
	DropEnvelope Attack = "drop-envelope"
	// SwapEnvelope puts the envelope of another recipient device (taken
	// from the message as it was posted) in the fetching device's slot.
	SwapEnvelope Attack = "swap-envelope"
)

// RogueDeviceID is the id of the device AddDevice invents.
const RogueDeviceID = "rogue-device"

// Proxy is the tampering handler. Its methods are safe for concurrent use.
type Proxy struct {
	next http.Handler

	mu        sync.Mutex
	armed     map[Attack]string // attack -> user id or conversation id
	lists     map[string][]byte // first device list seen per user
	delivered map[string]json.RawMessage
	posted    map[string][]byte // message id -> sealed body as posted
	postLog   [][]byte
}

// New returns a proxy in front of next with no attack armed.
func New(next http.Handler) *Proxy {
	return &Proxy{next: next, armed: map[Attack]string{}, lists: map[string][]byte{},
		delivered: map[string]json.RawMessage{}, posted: map[string][]byte{}}
}

// Arm turns an attack on for a target: a user id for the device attacks,
// a conversation id for the message attacks.
func (p *Proxy) Arm(a Attack, target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed[a] = target
}

// Disarm turns every attack off.
func (p *Proxy) Disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = map[Attack]string{}
}

// Posted returns the sealed message bodies posted through the proxy, in
// order.
func (p *Proxy) Posted() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.postLog...)
}

func (p *Proxy) target(a Attack) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.armed[a]
	return t, ok
}

var (
	devicesPath  = regexp.MustCompile(`^/api/v1/users/([^/]+)/devices$`)
	messagesPath = regexp.MustCompile(`^/api/v1/conversations/([^/]+)/messages$`)
)

// ServeHTTP passes the request on and tampers with the responses of the
// device and message routes.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := messagesPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPost {
		p.recordPost(w, r)
		return
	}
	var rewrite func([]byte, *http.Request) []byte
	switch {
	case r.Method == http.MethodGet && devicesPath.MatchString(r.URL.Path):
		user := devicesPath.FindStringSubmatch(r.URL.Path)[1]
		rewrite = func(b []byte, _ *http.Request) []byte { return p.devices(user, b) }
	case r.Method == http.MethodGet && messagesPath.MatchString(r.URL.Path):
		conv := messagesPath.FindStringSubmatch(r.URL.Path)[1]
		rewrite = func(b []byte, r *http.Request) []byte { return p.messages(conv, r, b) }
	default:
		p.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		body = rewrite(body, r)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body)
}

func (p *Proxy) recordPost(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	body := buf.Bytes()
	if m, err := e2ee.ParseSealed(body); err == nil {
		p.mu.Lock()
		p.posted[m.Header.MessageID.String()] = bytes.Clone(body)
		p.postLog = append(p.postLog, bytes.Clone(body))
		p.mu.Unlock()
	}
	r.Body = http.NoBody
	r2 := r.Clone(r.Context())
	r2.Body = readCloser{bytes.NewReader(body)}
	r2.ContentLength = int64(len(body))
	p.next.ServeHTTP(w, r2)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// devicesView mirrors the devices response with the fields the attacks touch
// and keeps the rest as they are.
type devicesView struct {
	UserID      string            `json:"user_id"`
	IdentityKey []byte            `json:"identity_key,omitempty"`
	ListVersion uint64            `json:"list_version,omitempty"`
	DeviceList  []byte            `json:"device_list,omitempty"`
	Devices     []json.RawMessage `json:"devices"`
}

func (p *Proxy) devices(user string, body []byte) []byte {
	var v devicesView
	if err := json.Unmarshal(body, &v); err != nil {
		return body
	}
	p.mu.Lock()
	if _, ok := p.lists[user]; !ok && len(v.DeviceList) > 0 {
		p.lists[user] = bytes.Clone(v.DeviceList)
	}
	first := p.lists[user]
	p.mu.Unlock()

	if t, ok := p.target(AddDevice); ok && t == user {
		rogue, _ := json.Marshal(map[string]any{"user_id": user, "device_id": RogueDeviceID,
			"hpke_key": randomBytes(32), "signing_key": randomBytes(32), "created_at": "2030-01-01T00:00:00Z"})
		v.Devices = append(v.Devices, rogue)
	}
	if t, ok := p.target(SwapKey); ok && t == user && len(v.Devices) > 0 {
		var d map[string]any
		if json.Unmarshal(v.Devices[0], &d) == nil {
			d["hpke_key"] = randomBytes(32)
			v.Devices[0], _ = json.Marshal(d)
		}
	}
	if t, ok := p.target(SwapListKey); ok && t == user && len(v.DeviceList) > 0 {
		v.DeviceList = swapFirstListedKey(v.DeviceList)
	}
	if t, ok := p.target(RollbackList); ok && t == user && first != nil {
		v.DeviceList = first
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// swapFirstListedKey overwrites the HPKE key of the first certificate in
// an encoded device list, keeping every length, so the list still parses
// but its signatures fail.
func swapFirstListedKey(raw []byte) []byte {
	list, err := e2ee.ParseDeviceList(raw)
	if err != nil || len(list.Certificates) == 0 {
		return raw
	}
	key := list.Certificates[0].Device.HPKEKey
	i := bytes.Index(raw, key)
	if i < 0 {
		return raw
	}
	out := bytes.Clone(raw)
	copy(out[i:], randomBytes(len(key)))
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pageView mirrors the message page response.
type pageView struct {
	Messages   []map[string]any `json:"messages"`
	NextCursor uint64           `json:"next_cursor"`
	HasMore    bool             `json:"has_more"`
}

func (p *Proxy) messages(conv string, r *http.Request, body []byte) []byte {
	var page pageView
	if err := json.Unmarshal(body, &page); err != nil {
		return body
	}
	device := r.Header.Get("X-Bedside-Device")
	p.mu.Lock()
	for _, m := range page.Messages {
		if _, ok := p.delivered[conv]; !ok {
			p.delivered[conv], _ = json.Marshal(m)
		}
	}
	p.mu.Unlock()

	if t, ok := p.target(ReplayMessage); ok && t == conv {
		p.mu.Lock()
		first := p.delivered[conv]
		p.mu.Unlock()
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		var m map[string]any
		if first != nil && json.Unmarshal(first, &m) == nil {
			next := max(page.NextCursor, after) + 1
			m["seq"] = next
			page.Messages = append(page.Messages, m)
			page.NextCursor = next
		}
	}
	for _, m := range page.Messages {
		sealed, _ := m["sealed"].(string)
		raw, err := decodeStd(sealed)
		if err != nil {
			continue
		}
		if t, ok := p.target(DropEnvelope); ok && t == conv {
			raw = p.dropEnvelope(raw, device)
		}
		if t, ok := p.target(SwapEnvelope); ok && t == conv {
			raw = p.swapEnvelope(raw, device)
		}
		m["sealed"] = raw
	}
	out, err := json.Marshal(page)
	if err != nil {
		return body
	}
	return out
}

func decodeStd(s string) ([]byte, error) {
	var b []byte
	err := json.Unmarshal([]byte(strconv.Quote(s)), &b)
	return b, err
}

func (p *Proxy) dropEnvelope(raw []byte, device string) []byte {
	m, err := e2ee.ParseSealed(raw)
	if err != nil {
		return raw
	}
	var remaining []e2ee.Envelope
	for _, env := range m.Envelopes {
		if env.Recipient.DeviceID != device {
			remaining = append(remaining, env)
		}
	}
	m.Envelopes = remaining
	return m.Marshal()
}

// swapEnvelope copies another device's envelope, as posted by the sender,
// into the fetching device's slot.
func (p *Proxy) swapEnvelope(raw []byte, device string) []byte {
	m, err := e2ee.ParseSealed(raw)
	if err != nil {
		return raw
	}
	p.mu.Lock()
	postedRaw := p.posted[m.Header.MessageID.String()]
	p.mu.Unlock()
	posted, err := e2ee.ParseSealed(postedRaw)
	if err != nil {
		return raw
	}
	var other *e2ee.Envelope
	for i := range posted.Envelopes {
		if posted.Envelopes[i].Recipient.DeviceID != device {
			other = &posted.Envelopes[i]
			break
		}
	}
	if other == nil {
		return raw
	}
	for i := range m.Envelopes {
		if m.Envelopes[i].Recipient.DeviceID == device {
			m.Envelopes[i].Enc, m.Envelopes[i].Ciphertext = other.Enc, other.Ciphertext
		}
	}
	return m.Marshal()
}
