package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/messaging"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/policy/policytest"
)

// e2eeUser is the client side of an account: its identity key, the
// devices the tests registered and the version of its last device list.
type e2eeUser struct {
	identity *e2ee.Identity
	devices  []*e2eeDevice
	version  uint64
}

// e2eeDevice is one registered device with its private keys.
type e2eeDevice struct {
	keys *e2ee.DeviceKeys
	cert *e2ee.DeviceCertificate
}

func (d *e2eeDevice) id() string { return d.keys.Ref().DeviceID }

// fullToken returns the token of actor's session with the second factor,
// for staff, whatever the value of actor.SecondFactor.
func (w *world) fullToken(t *testing.T, actor policy.Actor) string {
	actor.SecondFactor = actor.Role.IsStaff()
	return w.tc.token(t, actor)
}

// e2eeUserOf returns the client side of account id, created on first use.
func (w *world) e2eeUserOf(t *testing.T, id string) *e2eeUser {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if u, ok := w.e2ee[id]; ok {
		return u
	}
	identity, err := e2ee.GenerateIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &e2eeUser{identity: identity}
	w.e2ee[id] = u
	return u
}

// newDevice creates and certifies device keys for user id and signs the
// next device list with the user's devices and the new one. It records
// nothing: registerDevice does once the server accepts them.
func (w *world) newDevice(t *testing.T, id string) (*e2eeDevice, *e2ee.DeviceList) {
	t.Helper()
	u := w.e2eeUserOf(t, id)
	var raw [8]byte
	rand.Read(raw[:])
	keys, err := e2ee.GenerateDeviceKeys(nil, id, "d-"+hex.EncodeToString(raw[:]))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := u.identity.Certify(keys.Public(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := &e2eeDevice{keys: keys, cert: cert}
	w.mu.Lock()
	devices, version := append(u.devices, d), u.version+1
	w.mu.Unlock()
	return d, w.signList(t, id, u, devices, version)
}

func (w *world) signList(t *testing.T, id string, u *e2eeUser, devices []*e2eeDevice, version uint64) *e2ee.DeviceList {
	t.Helper()
	certs := make([]*e2ee.DeviceCertificate, len(devices))
	for i, d := range devices {
		certs[i] = d.cert
	}
	list, err := u.identity.SignDeviceList(id, version, time.Now(), certs)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// registerDevice registers a new device of actor through the API. The
// device list it signs holds the devices the server lists as current, so
// that revocations by earlier cells are taken into account.
func (w *world) registerDevice(t *testing.T, actor policy.Actor) *e2eeDevice {
	t.Helper()
	token := w.fullToken(t, actor)
	var current struct {
		ListVersion uint64 `json:"list_version"`
		Devices     []struct {
			DeviceID string `json:"device_id"`
		} `json:"devices"`
	}
	w.tc.mustCall(t, token, "GET", "/api/v1/users/"+actor.UserID+"/devices", nil, &current)
	u := w.e2eeUserOf(t, actor.UserID)
	w.mu.Lock()
	var devices []*e2eeDevice
	for _, d := range u.devices {
		for _, c := range current.Devices {
			if c.DeviceID == d.id() {
				devices = append(devices, d)
			}
		}
	}
	u.devices, u.version = devices, max(u.version, current.ListVersion)
	w.mu.Unlock()

	d, list := w.newDevice(t, actor.UserID)
	w.tc.mustCall(t, token, "POST", "/api/v1/devices", map[string][]byte{
		"certificate": d.cert.Bytes(), "device_list": list.Bytes(),
	}, nil)
	w.mu.Lock()
	u.devices, u.version = append(u.devices, d), list.Version
	w.mu.Unlock()
	return d
}

// device returns actor's first device, registered on first use.
func (w *world) device(t *testing.T, actor policy.Actor) *e2eeDevice {
	t.Helper()
	u := w.e2eeUserOf(t, actor.UserID)
	w.mu.Lock()
	if len(u.devices) > 0 {
		d := u.devices[0]
		w.mu.Unlock()
		return d
	}
	w.mu.Unlock()
	return w.registerDevice(t, actor)
}

// deviceHeader names actor's device for the routes that need one.
func (w *world) deviceHeader(t *testing.T, actor policy.Actor) http.Header {
	return http.Header{messaging.DeviceHeader: {w.deviceID(t, actor)}}
}

// deviceID returns the id of actor's device, or a made-up id for an actor
// that is no account (the matrix's anonymous requests).
func (w *world) deviceID(t *testing.T, actor policy.Actor) string {
	if !w.tc.known(actor) {
		return "d-anonymous"
	}
	return w.device(t, actor).id()
}

// conversationKind selects a consultation's conversation or a patient's
// care thread.
type conversationKind string

const (
	consultationThread conversationKind = "consultation thread"
	careThread         conversationKind = "care thread"
)

// conversation returns a fresh conversation of kind that actor relates to
// by rel, and its policy resource. The world's host, who has a device, is
// a member of every such conversation, so that a sealed message always
// has a recipient.
func (w *world) conversation(t *testing.T, actor policy.Actor, rel policy.Relation,
	kind conversationKind) (string, policy.Resource, policy.Relation, bool) {
	t.Helper()
	host := w.host(t)
	w.device(t, host)
	if kind == consultationThread {
		c, held, ok := w.consultation(t, actor, rel, clinic.StatusScheduled, later(), host.UserID)
		if !ok {
			return "", policy.Resource{}, 0, false
		}
		conv := messaging.ConsultationConversation(c.ID)
		return conv.ID, conv.Resource(), held, true
	}
	p, held, ok := w.patient(t, actor, rel)
	if !ok {
		return "", policy.Resource{}, 0, false
	}
	w.addCareTeam(t, p, host)
	conv := messaging.CareConversation(p)
	return conv.ID, conv.Resource(), held, true
}

// sealFor seals a message from actor's device to the current devices of
// every member of the conversation that the tests registered.
func (w *world) sealFor(t *testing.T, actor policy.Actor, conv string, res policy.Resource) []byte {
	t.Helper()
	return w.seal(t, actor, conv, res, "matrix test message")
}

// seal is sealFor with the message text.
func (w *world) seal(t *testing.T, actor policy.Actor, conv string, res policy.Resource, text string) []byte {
	t.Helper()
	if !w.tc.known(actor) {
		actor = w.host(t)
	}
	sender := w.device(t, actor)
	members, err := w.tc.srv.services.clinic.ConversationMembers(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	var recipients []e2ee.DevicePublic
	w.mu.Lock()
	for _, m := range members {
		if u, ok := w.e2ee[m]; ok {
			for _, d := range u.devices {
				if d != sender {
					recipients = append(recipients, d.keys.Public())
				}
			}
		}
	}
	w.mu.Unlock()
	if len(recipients) == 0 {
		// The host sends for an anonymous request, which is rejected
		// before the body is read; a throwaway recipient keeps Seal happy.
		nobody, err := e2ee.GenerateDeviceKeys(nil, "nobody", "d-nobody")
		if err != nil {
			t.Fatal(err)
		}
		recipients = append(recipients, nobody.Public())
	}
	payload, err := (&e2ee.Payload{Text: text}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := e2ee.Seal(nil, sender.keys, e2ee.Message{ConversationID: conv, ContentType: e2ee.ContentMessage,
		Time: time.Now(), Payload: payload}, recipients)
	if err != nil {
		t.Fatal(err)
	}
	return m.Marshal()
}

// attachment uploads a complete attachment of 16 bytes to conv as the
// world's host and returns its id.
func (w *world) attachment(t *testing.T, conv string) string {
	t.Helper()
	host := w.host(t)
	id := w.upload(t, host, conv)
	dev := w.device(t, host).id()
	w.rawCall(t, host, "PUT", "/api/v1/attachments/"+id+"/chunks?offset=0", dev, make([]byte, 16))
	w.rawCall(t, host, "POST", "/api/v1/attachments/"+id+"/complete", dev, nil)
	return id
}

// upload starts an upload of 16 bytes to conv as actor and returns its id.
func (w *world) upload(t *testing.T, actor policy.Actor, conv string) string {
	t.Helper()
	var up struct {
		ID string `json:"id"`
	}
	w.tc.mustCallWith(t, w.fullToken(t, actor), "POST", "/api/v1/attachments",
		map[string]any{"conversation_id": conv, "size": 16}, w.deviceHeader(t, actor), &up)
	return up.ID
}

// rawCall sends body as application/octet-stream with actor's device and
// fails unless the response is 2xx.
func (w *world) rawCall(t *testing.T, actor policy.Actor, method, path, device string, body []byte) {
	t.Helper()
	h := http.Header{messaging.DeviceHeader: {device}, "Content-Type": {"application/octet-stream"}}
	res := w.tc.callWith(t, w.fullToken(t, actor), method, path, rawBody(body), h)
	if res.Status/100 != 2 {
		t.Fatalf("%s %s: got %d %s", method, path, res.Status, res.Body)
	}
}

// onConversation builds an attempt on a fresh conversation of kind.
func onConversation(w *world, kind conversationKind,
	attempt func(t *testing.T, actor policy.Actor, conv string, res policy.Resource) policytest.Attempt) build {
	return func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		conv, res, held, ok := w.conversation(t, actor, rel, kind)
		if !ok {
			return policytest.Attempt{}, 0, false
		}
		a := attempt(t, actor, conv, res)
		a.Resource = &res
		return a, held, true
	}
}

// withDevice adds actor's device header to a.
func withDevice(w *world, t *testing.T, actor policy.Actor, a policytest.Attempt) policytest.Attempt {
	if a.Header == nil {
		a.Header = http.Header{}
	}
	a.Header.Set(messaging.DeviceHeader, w.deviceID(t, actor))
	return a
}

// conversationCases covers the routes on one conversation, for both kinds
// of conversation.
func conversationCases(w *world) []matrixCase {
	var cases []matrixCase
	for _, kind := range []conversationKind{consultationThread, careThread} {
		variant := " (" + string(kind) + ")"
		cases = append(cases,
			matrixCase{Case: policytest.Case{
				Name: "GET /api/v1/conversations/{id}" + variant, Action: policy.ActionConversationRead,
				Build: onConversation(w, kind, func(_ *testing.T, _ policy.Actor, conv string, _ policy.Resource) policytest.Attempt {
					return getAttempt("/api/v1/conversations/" + conv)
				})}},
			matrixCase{Case: policytest.Case{
				Name: "DELETE /api/v1/conversations/{id}" + variant, Action: policy.ActionConversationDelete,
				Build: onConversation(w, kind, func(_ *testing.T, _ policy.Actor, conv string, _ policy.Resource) policytest.Attempt {
					return policytest.Attempt{Method: "DELETE", Path: "/api/v1/conversations/" + conv}
				})}},
			matrixCase{Case: policytest.Case{
				Name: "POST /api/v1/conversations/{id}/messages" + variant, Action: policy.ActionConversationPost,
				Build: onConversation(w, kind, func(t *testing.T, actor policy.Actor, conv string, res policy.Resource) policytest.Attempt {
					a := policytest.Attempt{Method: "POST", Path: "/api/v1/conversations/" + conv + "/messages",
						RawBody: w.sealFor(t, actor, conv, res)}
					a = withDevice(w, t, actor, a)
					a.Header.Set("Content-Type", messaging.SealedMediaType)
					return a
				})}},
			matrixCase{Case: policytest.Case{
				Name: "GET /api/v1/conversations/{id}/messages" + variant, Action: policy.ActionConversationRead,
				Build: onConversation(w, kind, func(t *testing.T, actor policy.Actor, conv string, _ policy.Resource) policytest.Attempt {
					return withDevice(w, t, actor, getAttempt("/api/v1/conversations/"+conv+"/messages"))
				})}},
			matrixCase{Case: policytest.Case{
				Name: "GET /api/v1/conversations/{id}/members" + variant, Action: policy.ActionConversationRead,
				Build: onConversation(w, kind, func(_ *testing.T, _ policy.Actor, conv string, _ policy.Resource) policytest.Attempt {
					return getAttempt("/api/v1/conversations/" + conv + "/members")
				})}},
			matrixCase{Case: policytest.Case{
				Name: "POST /api/v1/conversations/{id}/delivered" + variant, Action: policy.ActionConversationRead,
				Build: onConversation(w, kind, func(t *testing.T, actor policy.Actor, conv string, _ policy.Resource) policytest.Attempt {
					return withDevice(w, t, actor, postAttempt("/api/v1/conversations/"+conv+"/delivered",
						map[string]int{"seq": 0}))
				})}},
			matrixCase{Case: policytest.Case{
				Name: "POST /api/v1/conversations/{id}/read" + variant, Action: policy.ActionConversationRead,
				Build: onConversation(w, kind, func(t *testing.T, actor policy.Actor, conv string, _ policy.Resource) policytest.Attempt {
					return postAttempt("/api/v1/conversations/"+conv+"/read", map[string]int{"seq": 0})
				})}},
			matrixCase{Case: policytest.Case{
				Name: "POST /api/v1/attachments" + variant, Action: policy.ActionAttachmentUpload,
				Build: onConversation(w, kind, func(t *testing.T, actor policy.Actor, conv string, _ policy.Resource) policytest.Attempt {
					return withDevice(w, t, actor, postAttempt("/api/v1/attachments",
						map[string]any{"conversation_id": conv, "size": 16}))
				})}},
			matrixCase{Case: policytest.Case{
				Name: "GET /api/v1/attachments/{id}" + variant, Action: policy.ActionAttachmentDownload,
				Build: onConversation(w, kind, func(t *testing.T, actor policy.Actor, conv string, _ policy.Resource) policytest.Attempt {
					return withDevice(w, t, actor, getAttempt("/api/v1/attachments/"+w.attachment(t, conv)))
				})}},
		)
	}
	return cases
}

// uploaderCase covers a route on an upload in progress, which only its
// uploader reaches. The actor started the upload in a conversation he
// relates to by rel; with no relation, someone else did.
func uploaderCase(w *world, name string, filled bool, attempt func(id string) policytest.Attempt) matrixCase {
	return matrixCase{Case: policytest.Case{
		Name: name, Action: policy.ActionAttachmentUpload,
		Build: func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
			conv, res, held, ok := w.conversation(t, actor, rel, consultationThread)
			if !ok {
				return policytest.Attempt{}, 0, false
			}
			uploader := w.host(t)
			if rel != policy.RelNone {
				if policy.Grant(actor.Role, policy.ActionAttachmentUpload)&held == 0 {
					return policytest.Attempt{}, 0, false
				}
				uploader = actor
			}
			id := w.upload(t, uploader, conv)
			if filled {
				w.rawCall(t, uploader, "PUT", "/api/v1/attachments/"+id+"/chunks?offset=0",
					w.device(t, uploader).id(), make([]byte, 16))
			}
			a := withDevice(w, t, actor, attempt(id))
			a.Resource = &res
			return a, held, true
		},
	}}
}

// deviceCases covers the device routes.
func deviceCases(w *world) []matrixCase {
	tc := w.tc
	return []matrixCase{
		{source: freshActors, Case: policytest.Case{
			Name: "POST /api/v1/devices", Action: policy.ActionDeviceRegisterOwn,
			Build: onSelf(func(t *testing.T, actor policy.Actor) policytest.Attempt {
				d, list := w.newDevice(t, actor.UserID)
				return postAttempt("/api/v1/devices", map[string][]byte{
					"certificate": d.cert.Bytes(), "device_list": list.Bytes()})
			})}},
		{source: freshActors, Case: policytest.Case{
			Name: "PUT /api/v1/device-list", Action: policy.ActionDeviceRegisterOwn,
			Build: onSelf(func(t *testing.T, actor policy.Actor) policytest.Attempt {
				w.registerDevice(t, actor)
				u := w.e2eeUserOf(t, actor.UserID)
				w.mu.Lock()
				devices, version := u.devices, u.version+1
				w.mu.Unlock()
				list := w.signList(t, actor.UserID, u, devices, version)
				w.mu.Lock()
				u.version = version
				w.mu.Unlock()
				return policytest.Attempt{Method: "PUT", Path: "/api/v1/device-list",
					Body: map[string][]byte{"device_list": list.Bytes()}}
			})}},
		{Case: policytest.Case{
			Name: "GET /api/v1/users/{user}/devices", Action: policy.ActionDeviceList,
			Build: func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
				u, held, ok := w.account(t, actor, rel)
				if !ok {
					return policytest.Attempt{}, 0, false
				}
				res := policy.Resource{Kind: policy.KindDevice, UserID: u}
				return policytest.Attempt{Method: "GET", Path: "/api/v1/users/" + u + "/devices", Resource: &res}, held, true
			}}},
		{source: freshActors, Case: policytest.Case{
			Name: "DELETE /api/v1/devices/{device}", Action: policy.ActionDeviceRevoke,
			Build: onSelf(func(t *testing.T, actor policy.Actor) policytest.Attempt {
				return policytest.Attempt{Method: "DELETE", Path: "/api/v1/devices/" + w.registerDevice(t, actor).id()}
			})}},
		{source: freshActors, Case: policytest.Case{
			Name: "DELETE /api/v1/users/{user}/devices/{device}", Action: policy.ActionDeviceRevoke,
			Build: func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
				u, held, ok := w.account(t, actor, rel)
				if !ok {
					return policytest.Attempt{}, 0, false
				}
				owner := actor
				if rel != policy.RelOwner {
					owner = w.signIn(t, tc.accountOf(t, u))
				}
				d := w.registerDevice(t, owner)
				res := policy.Resource{Kind: policy.KindDevice, UserID: u, ID: d.id()}
				return policytest.Attempt{Method: "DELETE", Path: "/api/v1/users/" + u + "/devices/" + d.id(),
					Resource: &res}, held, true
			}}},
	}
}

// signIn signs in a patient account created by the world and returns its
// actor.
func (w *world) signIn(t *testing.T, a account) policy.Actor {
	t.Helper()
	login := w.tc.passwordLogin(t, a)
	w.tc.setToken(a.ID, false, login.Session.Token)
	return policy.Actor{UserID: a.ID, Role: a.Role, SessionID: login.Session.ID}
}

// messagingCases covers the routes of package messaging, except the
// conversation list, which checkConversationList covers.
func messagingCases(w *world) []matrixCase {
	cases := deviceCases(w)
	cases = append(cases, conversationCases(w)...)
	cases = append(cases,
		uploaderCase(w, "GET /api/v1/attachments/{id}/upload", false, func(id string) policytest.Attempt {
			return getAttempt("/api/v1/attachments/" + id + "/upload")
		}),
		uploaderCase(w, "PUT /api/v1/attachments/{id}/chunks", false, func(id string) policytest.Attempt {
			return policytest.Attempt{Method: "PUT", Path: "/api/v1/attachments/" + id + "/chunks?offset=0",
				RawBody: make([]byte, 16), Header: http.Header{"Content-Type": {"application/octet-stream"}}}
		}),
		uploaderCase(w, "POST /api/v1/attachments/{id}/complete", true, func(id string) policytest.Attempt {
			return policytest.Attempt{Method: "POST", Path: "/api/v1/attachments/" + id + "/complete"}
		}),
	)
	return cases
}

// TestListsShowOnlyReadable lists the conversations of each role's actor,
// who relates to fresh conversations in every way. Each listed
// conversation must pass conversation.read for him, and none he has no
// relation to may be listed, so a list never shows what a read would deny.
func TestListsShowOnlyReadable(t *testing.T) {
	tc := newTestClinic(t, nil)
	w := newWorld(tc)
	for _, role := range policy.Roles {
		actor := tc.newActor(t, role)
		token := tc.token(t, actor)
		hidden := map[string]bool{}
		for _, kind := range []conversationKind{consultationThread, careThread} {
			for _, rel := range policytest.Scenarios {
				conv, _, _, ok := w.conversation(t, actor, rel, kind)
				if ok && rel == policy.RelNone {
					hidden[conv] = true
				}
			}
		}
		var list struct {
			Conversations []struct {
				ID string `json:"id"`
			} `json:"conversations"`
		}
		tc.mustCall(t, token, "GET", "/api/v1/conversations", nil, &list)
		for _, c := range list.Conversations {
			if hidden[c.ID] {
				t.Errorf("%s lists %s, which he has no relation to", role, c.ID)
			}
			res := tc.call(t, token, "GET", "/api/v1/conversations/"+c.ID, nil)
			switch {
			case res.Status == http.StatusOK:
			default:
				t.Errorf("%s lists %s but reading it gets %d %s", role, c.ID, res.Status, res.Body)
			}
		}
	}
}
