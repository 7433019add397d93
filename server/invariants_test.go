package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/messaging"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/policy/policytest"
	"github.com/bedside-health/bedside/signaling"
)

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// concretePath fills the parameters of a route pattern with random ids of
// the shape the server issues, and returns the method and path.
func concretePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	id := randomHex
	if strings.HasPrefix(path, "/api/v1/conversations/") {
		id = randomConversation
	}
	path = pathParam.ReplaceAllStringFunc(path, func(string) string { return id() })
	return method, path
}

// randomConversation returns the id of a consultation's conversation that
// does not exist.
func randomConversation() string { return messaging.ConsultationConversation(rand.Text()).ID }

func randomHex() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestBody returns a body a route accepts in form: a JSON object with
// the ids the route reads from its body, or a byte for the routes that
// take raw bytes.
func requestBody(pattern string) (rawBody, string) {
	switch pattern {
	case "POST /api/v1/conversations/{id}/messages", "PUT /api/v1/attachments/{id}/chunks":
		return rawBody{0}, "application/octet-stream"
	case "POST /api/v1/consultations":
		return rawBody(`{"patient_id":"` + randomHex() + `"}`), "application/json"
	case "POST /api/v1/attachments":
		return rawBody(`{"conversation_id":"` + randomConversation() + `","size":1}`), "application/json"
	}
	return rawBody("{}"), "application/json"
}

// routeActions maps each route with matrix cases to its action.
func routeActions(w *world) map[string]policy.Action {
	out := map[string]policy.Action{}
	for _, c := range httpCases(w) {
		out[route(c.Name)] = c.Action
	}
	for r, a := range listRoutes {
		out[r] = a
	}
	return out
}

func exemptFromSecondFactor(a policy.Action) bool {
	for _, r := range policy.Rules() {
		if r.Action == a {
			return r.NoSecondFactor
		}
	}
	return false
}

// TestEveryRouteNeedsSession sends every route that is not public without
// a session, and with a session token that does not exist, and requires
// the one unauthenticated response.
func TestEveryRouteNeedsSession(t *testing.T) {
	tc := newTestClinic(t, nil)
	want := api.Unauthorized()
	for _, pattern := range tc.srv.router.Patterns() {
		if _, public := publicRoutes[pattern]; public {
			continue
		}
		method, path := concretePath(pattern)
		body, ctype := requestBody(pattern)
		h := http.Header{"Content-Type": {ctype}}
		res := tc.callWith(t, "", method, path, body, h)
		checkAnswer(t, pattern+" without a session", res, want)
		res = tc.callWith(t, "bss_"+strings.Repeat("A", 43), method, path, body, h)
		checkAnswer(t, pattern+" with an unknown token", res, want)
	}

	// The WebSocket authenticates with its first message instead.
	for _, token := range []string{"", "bss_" + strings.Repeat("A", 43)} {
		_, err := tc.dialWS(t, token)
		var ce *closedError
		if !errors.As(err, &ce) || ce.code != signaling.CloseAuthFailed {
			t.Errorf("WebSocket auth with token %q: got %v, want close %d", token, err, signaling.CloseAuthFailed)
		}
	}
}

// TestStaffNeedSecondFactor sends every route as each staff role with a
// session that has no second factor. The routes on the caller's own
// account (account.read-self and account.update-self) must accept the
// session, and every other one must give the one second_factor_required
// response, whatever the ids in the path.
func TestStaffNeedSecondFactor(t *testing.T) {
	tc := newTestClinic(t, nil)
	w := newWorld(tc)
	actions := routeActions(w)
	want := policy.SecondFactorError()
	for _, role := range policy.Roles {
		if !role.IsStaff() {
			continue
		}
		actor := tc.newActor(t, role)
		device := w.device(t, actor).id()
		actor.SecondFactor = false
		token := tc.token(t, actor)
		// The WebSocket refuses the session at authentication.
		_, err := tc.dialWS(t, token)
		var ce *closedError
		if !errors.As(err, &ce) || ce.code != signaling.CloseAuthFailed {
			t.Errorf("WebSocket as %s without second factor: got %v, want close %d", role, err, signaling.CloseAuthFailed)
		}

		// The exempt routes run last, sign-out at the very end, because
		// they may end the session.
		patterns := tc.srv.router.Patterns()
		slices.SortStableFunc(patterns, func(a, b string) int {
			rank := func(p string) int {
				switch {
				case p == "POST /api/v1/auth/logout":
					return 2
				case exemptFromSecondFactor(actions[p]):
					return 1
				}
				return 0
			}
			return rank(a) - rank(b)
		})
		for _, pattern := range patterns {
			if _, public := publicRoutes[pattern]; public || pattern == "GET /ws" {
				continue
			}
			action, ok := actions[pattern]
			if !ok {
				t.Errorf("%s has no action", pattern)
				continue
			}
			method, path := concretePath(pattern)
			body, ctype := requestBody(pattern)
			h := http.Header{"Content-Type": {ctype}, messaging.DeviceHeader: {device}}
			res := tc.callWith(t, token, method, path, body, h)
			name := fmt.Sprintf("%s as %s without second factor", pattern, role)
			if exemptFromSecondFactor(action) {
				if res.Status == http.StatusUnauthorized || bytes.Contains(res.Body, []byte(`"second_factor_required"`)) {
					t.Errorf("%s: got %d %s, want the session accepted", name, res.Status, res.Body)
				}
				continue
			}
			checkAnswer(t, name, res, want)
		}
	}
}

// TestNoTokenInURL sends every route, the WebSocket included, with a
// credential in the query string and a valid session in the header, and
// requires 400 token_in_url: the URL ends up in logs and histories.
func TestNoTokenInURL(t *testing.T) {
	tc := newTestClinic(t, nil)
	_, admin := tc.newUser(t, policy.RoleAdmin)
	token := tc.token(t, admin)
	queries := []string{
		"token=abc",
		"access_token=abc",
		"Access_Token=abc",
		"session=abc",
		"q=" + token,
		"q=bsi_" + strings.Repeat("B", 43),
	}
	for _, pattern := range tc.srv.router.Patterns() {
		method, path := concretePath(pattern)
		body, ctype := requestBody(pattern)
		for _, q := range queries {
			res := tc.callWith(t, token, method, path+"?"+q, body, http.Header{"Content-Type": {ctype}})
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			decodeJSON(res.Body, &e)
			if res.Status != http.StatusBadRequest || e.Error.Code != "token_in_url" {
				t.Errorf("%s?%s: got %d %s, want 400 token_in_url", pattern, q, res.Status, bytes.TrimSpace(res.Body))
			}
		}
	}

	// A WebSocket client that puts its token in the URL gets no upgrade.
	d := websocket.Dialer{Subprotocols: []string{signaling.Subprotocol}, HandshakeTimeout: wsTimeout}
	ws, resp, err := d.Dial("ws://"+tc.addr+"/ws?access_token="+token, nil)
	if err == nil {
		ws.Close()
		t.Fatal("WebSocket with a token in the URL: upgraded, want 400")
	}
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("WebSocket with a token in the URL: got %v, want status 400", err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

// TestBodiesBounded sends every POST and PUT route a body over the
// server's limit, declared in Content-Length, and requires 413
// body_too_large before any other check.
func TestBodiesBounded(t *testing.T) {
	tc := newTestClinic(t, func(cfg *Config) { cfg.MaxBodyBytes = 64 << 10 })
	big := bytes.Repeat([]byte("a"), 64<<10+1)
	for _, pattern := range tc.srv.router.Patterns() {
		method, path := concretePath(pattern)
		if method != "POST" && method != "PUT" {
			continue
		}
		res := tc.callWith(t, "", method, path, rawBody(big), http.Header{"Content-Type": {"application/json"}})
		checkCode(t, pattern+" with an oversized body", res, http.StatusRequestEntityTooLarge, "body_too_large")
	}
}

// checkCode fails unless res has status and, in the one error shape, code.
func checkCode(t *testing.T, name string, res apiResult, status int, code string) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := decodeJSON(res.Body, &e); err != nil || e.Error == nil || e.Error.Message == "" {
		t.Errorf("%s: got body %q, want the error shape", name, res.Body)
		return
	}
	if res.Status != status || e.Error.Code != code {
		t.Errorf("%s: got %d %s, want %d %s", name, res.Status, e.Error.Code, status, code)
	}
}

func decodeJSON(raw []byte, v any) error { return json.Unmarshal(raw, v) }

// optionalBodies are routes that take no body or a JSON object.
var optionalBodies = map[string]bool{
	"POST /api/v1/consultations/{id}/confirm": true,
	"POST /api/v1/consultations/{id}/cancel":  true,
	"POST /api/v1/admin/alerts/{id}/ack":      true,
}

// TestBodiesChecked sends every route that reads a body a malformed body,
// a body of the wrong media type and a body over the route's own limit,
// as an actor the table allows. Each must get the matching error in the
// one error shape.
func TestBodiesChecked(t *testing.T) {
	tc := newTestClinic(t, nil)
	w := newWorld(tc)
	table := policytest.LoadDoc(t, accessDoc)
	sources := map[sourceKind]*actorSource{}
	for _, kind := range []sourceKind{sharedActors, freshActors, unenrolledActors} {
		sources[kind] = newActorSource(tc, kind)
	}
	checked := 0
	for _, c := range httpCases(w) {
		actor, rel := allowedCell(t, sources[c.source], table, c)
		build := func() policytest.Attempt {
			a, _, ok := c.Build(t, actor, rel)
			if !ok {
				t.Fatalf("%s: no attempt as %s with %s", c.Name, actor.Role, rel)
			}
			return a
		}
		probe := build()
		name := c.Name + " as " + string(actor.Role)
		switch {
		case probe.RawBody != nil:
			checked++
			checkRawBody(t, w, c.Name, actor, build)
		case probe.Body != nil || optionalBodies[route(c.Name)]:
			checked++
			send := func(body []byte, ctype string) apiResult {
				a := build()
				a.Body, a.RawBody = nil, body
				a.Header = a.Header.Clone()
				if a.Header == nil {
					a.Header = http.Header{}
				}
				a.Header.Set("Content-Type", ctype)
				return w.send(t, a, actor)
			}
			checkCode(t, name+", malformed JSON", send([]byte(`{"a":`), "application/json"),
				http.StatusBadRequest, "malformed_json")
			checkCode(t, name+", unknown field", send([]byte(`{"no_such_field":1}`), "application/json"),
				http.StatusBadRequest, "malformed_json")
			checkCode(t, name+", text/plain", send([]byte(`{}`), "text/plain"),
				http.StatusUnsupportedMediaType, "unsupported_media_type")
			big := []byte(`{"a":"` + strings.Repeat("a", api.DefaultMaxBody) + `"}`)
			checkCode(t, name+", over the limit", send(big, "application/json"),
				http.StatusRequestEntityTooLarge, "body_too_large")
		}
	}
	t.Logf("checked the bodies of %d routes", checked)
}

// checkRawBody checks a route that takes raw bytes: a sealed message or
// an attachment chunk.
func checkRawBody(t *testing.T, w *world, caseName string, actor policy.Actor, build func() policytest.Attempt) {
	t.Helper()
	send := func(body []byte, ctype string) apiResult {
		a := build()
		a.RawBody = body
		a.Header = a.Header.Clone()
		a.Header.Set("Content-Type", ctype)
		return w.send(t, a, actor)
	}
	name := caseName + " as " + string(actor.Role)
	checkCode(t, name+", JSON media type", send([]byte(`{}`), "application/json"),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
	if strings.Contains(caseName, "/chunks") {
		// The upload declared 16 bytes; a 17th is over its limit.
		checkCode(t, name+", past the declared size", send(make([]byte, 17), "application/octet-stream"),
			http.StatusRequestEntityTooLarge, "chunk_too_large")
		return
	}
	checkCode(t, name+", garbage", send([]byte("not a sealed message"), "application/octet-stream"),
		http.StatusBadRequest, "invalid_message")
	limit := messaging.Config{}.MaxMessageBytes
	if limit == 0 {
		limit = 256 << 10
	}
	checkCode(t, name+", over the limit", send(make([]byte, limit+1), "application/octet-stream"),
		http.StatusRequestEntityTooLarge, "body_too_large")
}
