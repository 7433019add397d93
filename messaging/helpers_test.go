package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Test accounts. The patient and the clinician share consultation
// "cons1". The clinician and the nurse are the patient's care team. The
// outsider is a patient with no relation to any of them.
const (
	patientID   = "patient1"
	clinicianID = "clinician1"
	nurseID     = "nurse1"
	outsiderID  = "outsider1"
	adminID     = "admin1"
	// clinicianNo2FA names, in testUserHeader only, the clinician's
	// session without a second factor.
	clinicianNo2FA = "clinician1-without-second-factor"
	consultID      = "cons1"
)

var (
	consultConv = ConsultationConversation(consultID).ID
	careConv    = CareConversation(patientID).ID
)

// testUserHeader names the acting account in test requests. Only the test
// middleware reads it; in the server, package auth sets the actor from a
// session token.
const testUserHeader = "X-Test-User"

// auditLog collects audit events.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *auditLog) Record(_ context.Context, e audit.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *auditLog) ofType(typ string) []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Event
	for _, e := range a.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// notifications collects the notifications the service sends to the
// signaling hub.
type notifications struct {
	mu   sync.Mutex
	list []notification
}

type notification struct {
	users        []string
	conversation string
	message      string
}

func (n *notifications) NotifyMessage(users []string, conversationID, messageID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, notification{append([]string(nil), users...), conversationID, messageID})
}

func (n *notifications) all() []notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notification(nil), n.list...)
}

// testClock is a settable time source.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// harness is a messaging service over a real bbolt store and the real
// clinic service, served by httptest.
type harness struct {
	t      testing.TB
	dir    string
	db     *store.DB
	svc    *Service
	srv    *httptest.Server
	clock  *testClock
	audit  *auditLog
	notes  *notifications
	logs   *syncBuffer
	actors map[string]policy.Actor
	users  map[string]*testUser
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := store.LoadOrCreateKey(filepath.Join(dir, store.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t: t, dir: dir, db: db,
		clock: &testClock{t: time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)},
		audit: &auditLog{}, notes: &notifications{}, logs: &syncBuffer{},
		users: map[string]*testUser{}, actors: testActors(),
	}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cl, err := clinic.New(clinic.Config{}, clinic.Deps{DB: db, Sealer: store.NewSealer(key), Audit: h.audit,
		Logger: logger, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.svc, err = New(cfg, Deps{DB: db, DataDir: dir, Directory: ClinicDirectory{Clinic: cl, DB: db},
		Names: storeNames{db}, Notifier: h.notes, Audit: h.audit, Logger: logger, Now: h.clock.Now})
	if err != nil {
		t.Fatalf("messaging.New: %v", err)
	}
	t.Cleanup(func() { h.svc.Close() })
	if err := seedClinic(db, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := seedAccounts(db, h.clock.Now()); err != nil {
		t.Fatal(err)
	}

	rt := api.NewRouter(nil)
	h.svc.Register(rt)
	h.srv = httptest.NewServer(testAuth(h.actors, rt))
	t.Cleanup(h.srv.Close)
	return h
}

// testActors returns the signed-in actor of each test account; staff
// sessions have a second factor.
func testActors() map[string]policy.Actor {
	return map[string]policy.Actor{
		patientID:   {UserID: patientID, Role: policy.RolePatient},
		outsiderID:  {UserID: outsiderID, Role: policy.RolePatient},
		clinicianID: {UserID: clinicianID, Role: policy.RoleClinician, SecondFactor: true},
		nurseID:     {UserID: nurseID, Role: policy.RoleNurse, SecondFactor: true},
		adminID:     {UserID: adminID, Role: policy.RoleAdmin, SecondFactor: true},
		// The clinician signed in without a second factor.
		clinicianNo2FA: {UserID: clinicianID, Role: policy.RoleClinician},
	}
}

// testAuth puts the actor named by testUserHeader into the request
// context, as package auth does for a valid session.
func testAuth(actors map[string]policy.Actor, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := actors[r.Header.Get(testUserHeader)]; ok {
			r = r.WithContext(policy.WithActor(r.Context(), a))
		}
		next.ServeHTTP(w, r)
	})
}

// storeNames reads display names and roles from the account records, as
// the server's adapter over auth.Service does.
type storeNames struct{ db *store.DB }

func (n storeNames) DisplayNames(_ context.Context, ids []string) (map[string]Person, error) {
	out := make(map[string]Person, len(ids))
	for _, id := range ids {
		a, err := n.db.Account(id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = Person{DisplayName: a.DisplayName, Role: policy.Role(a.Role)}
	}
	return out, nil
}

// seedAccounts stores the accounts of the patient and the clinician with
// display names and emails. The nurse has no account record, as after a
// deletion.
func seedAccounts(db *store.DB, now time.Time) error {
	for _, a := range []store.Account{
		{ID: patientID, Email: "pat@example.org", DisplayName: "Pat Doe", Role: string(policy.RolePatient)},
		{ID: clinicianID, Email: "dr.lee@example.org", DisplayName: "Dr Lee", Role: string(policy.RoleClinician)},
	} {
		a.Status, a.CreatedAt, a.UpdatedAt = "active", now, now
		if err := db.CreateAccount(&a); err != nil {
			return err
		}
	}
	return nil
}

// seedClinic stores consultation cons1 of the patient with the clinician,
// and the patient's care team of the clinician and the nurse.
func seedClinic(db *store.DB, now time.Time) error {
	start := now.Add(time.Hour)
	err := db.CreateConsultation(&store.Consultation{
		ID:        consultID,
		PatientID: patientID,
		Participants: []store.Participant{
			{UserID: patientID, Kind: clinic.KindPatient},
			{UserID: clinicianID, Kind: clinic.KindClinician, Role: string(policy.RoleClinician)},
		},
		Start: start, End: start.Add(30 * time.Minute), Status: "scheduled",
		CreatedBy: clinicianID, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return err
	}
	_, err = db.UpdateCareTeam(patientID, func([]store.CareTeamMember) ([]store.CareTeamMember, error) {
		return []store.CareTeamMember{
			{UserID: clinicianID, Role: string(policy.RoleClinician)},
			{UserID: nurseID, Role: string(policy.RoleNurse)},
		}, nil
	})
	return err
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorCode returns the code of an error body, or "" for another body.
func (r response) errorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// request describes one call; zero fields are left out.
type request struct {
	method, path string
	user, device string
	contentType  string
	body         []byte
	header       map[string]string
}

func (h *harness) do(req request) response {
	h.t.Helper()
	r, err := http.NewRequest(req.method, h.srv.URL+req.path, bytes.NewReader(req.body))
	if err != nil {
		h.t.Fatal(err)
	}
	if req.user != "" {
		r.Header.Set(testUserHeader, req.user)
	}
	if req.device != "" {
		r.Header.Set(DeviceHeader, req.device)
	}
	if req.contentType != "" {
		r.Header.Set("Content-Type", req.contentType)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	res, err := h.srv.Client().Do(r)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func (h *harness) doJSON(method, path, user, device string, v any) response {
	h.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(request{method: method, path: path, user: user, device: device,
		contentType: "application/json", body: body})
}

// expect fails the test unless r has the status and, when code is not
// empty, the error code.
func expect(t testing.TB, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: got status %d (%s), want %d", what, r.status, r.body, status)
	}
	if code != "" && r.errorCode() != code {
		t.Fatalf("%s: got error code %q (%s), want %q", what, r.errorCode(), r.body, code)
	}
}

// testUser is a client-side account: its identity key, its devices and the
// version of the last device list it signed.
type testUser struct {
	id       string
	identity *e2ee.Identity
	devices  []*testDevice
	version  uint64
}

// testDevice is one client device with its private keys.
type testDevice struct {
	user *testUser
	keys *e2ee.DeviceKeys
	cert *e2ee.DeviceCertificate
}

func (d *testDevice) id() string { return d.keys.Ref().DeviceID }

func (h *harness) user(id string) *testUser {
	if u, ok := h.users[id]; ok {
		return u
	}
	identity, err := e2ee.GenerateIdentity(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	u := &testUser{id: id, identity: identity}
	h.users[id] = u
	return u
}

// newDevice creates device keys for user, certifies them and signs the
// next device list with every device the client knows plus the new one.
func (h *harness) newDevice(userID, deviceID string) (*testDevice, *e2ee.DeviceList) {
	h.t.Helper()
	d := h.deviceKeys(userID, deviceID)
	return d, h.signList(d.user, append(d.user.devices, d), d.user.version+1)
}

// deviceKeys creates and certifies the keys of a device.
func (h *harness) deviceKeys(userID, deviceID string) *testDevice {
	h.t.Helper()
	u := h.user(userID)
	keys, err := e2ee.GenerateDeviceKeys(nil, userID, deviceID)
	if err != nil {
		h.t.Fatal(err)
	}
	cert, err := u.identity.Certify(keys.Public(), h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return &testDevice{user: u, keys: keys, cert: cert}
}

func (h *harness) signList(u *testUser, devices []*testDevice, version uint64) *e2ee.DeviceList {
	h.t.Helper()
	certs := make([]*e2ee.DeviceCertificate, len(devices))
	for i, d := range devices {
		certs[i] = d.cert
	}
	list, err := u.identity.SignDeviceList(u.id, version, h.clock.Now(), certs)
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// register creates and registers a device and fails the test unless the
// server accepts it.
func (h *harness) register(userID, deviceID string) *testDevice {
	h.t.Helper()
	d, list := h.newDevice(userID, deviceID)
	r := h.postRegistration(userID, d.cert.Bytes(), list.Bytes())
	expect(h.t, "register "+userID+"/"+deviceID, r, http.StatusCreated, "")
	d.user.devices = append(d.user.devices, d)
	d.user.version = list.Version
	return d
}

func (h *harness) postRegistration(userID string, cert, list []byte) response {
	return h.doJSON("POST", "/api/v1/devices", userID, "",
		map[string][]byte{"certificate": cert, "device_list": list})
}

// recipients fetches and verifies the device lists of the conversation's
// members, as a client does before sealing, and returns their devices.
func (h *harness) recipients(members ...string) []e2ee.DevicePublic {
	h.t.Helper()
	var out []e2ee.DevicePublic
	for _, m := range members {
		r := h.do(request{method: "GET", path: "/api/v1/users/" + m + "/devices", user: m})
		expect(h.t, "list devices of "+m, r, http.StatusOK, "")
		var v devicesView
		r.decode(h.t, &v)
		if len(v.DeviceList) == 0 {
			continue
		}
		list, err := e2ee.ParseDeviceList(v.DeviceList)
		if err != nil {
			h.t.Fatal(err)
		}
		if err := e2ee.VerifyDeviceList(h.user(m).identity.PublicKey(), list); err != nil {
			h.t.Fatalf("device list of %s: %v", m, err)
		}
		ids := make([]string, len(v.Devices))
		for i, d := range v.Devices {
			ids[i] = d.DeviceID
		}
		uncertified, removed := e2ee.CompareDevices(list, ids)
		if len(uncertified) > 0 {
			h.t.Fatalf("server lists uncertified devices of %s: %v", m, uncertified)
		}
		// Devices in the list but no longer on the server were revoked
		// before their owner published the next list.
		for _, d := range list.Devices() {
			if !slices.Contains(removed, d.DeviceID) {
				out = append(out, d)
			}
		}
	}
	return out
}

// seal seals text (and attachment references) from d to recipients.
func (h *harness) seal(d *testDevice, conv, text string, recipients []e2ee.DevicePublic,
	attachments ...e2ee.AttachmentRef) *e2ee.SealedMessage {
	h.t.Helper()
	payload, err := (&e2ee.Payload{Text: text, Attachments: attachments}).MarshalBinary()
	if err != nil {
		h.t.Fatal(err)
	}
	var others []e2ee.DevicePublic
	for _, r := range recipients {
		if r.Ref() != d.keys.Ref() {
			others = append(others, r)
		}
	}
	m, err := e2ee.Seal(nil, d.keys, e2ee.Message{ConversationID: conv, ContentType: e2ee.ContentMessage,
		Time: h.clock.Now(), Payload: payload}, others)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) post(d *testDevice, conv string, wire []byte) response {
	return h.do(request{method: "POST", path: "/api/v1/conversations/" + conv + "/messages",
		user: d.user.id, device: d.id(), contentType: SealedMediaType, body: wire})
}

// send seals text to the current devices of members and posts it; it
// fails the test unless the server stores it.
func (h *harness) send(d *testDevice, conv, text string, members ...string) ackView {
	h.t.Helper()
	m := h.seal(d, conv, text, h.recipients(members...))
	r := h.post(d, conv, m.Marshal())
	expect(h.t, "send to "+conv, r, http.StatusCreated, "")
	var ack ackView
	r.decode(h.t, &ack)
	return ack
}

func (h *harness) fetch(d *testDevice, conv string, after uint64, limit int) pageView {
	h.t.Helper()
	path := fmt.Sprintf("/api/v1/conversations/%s/messages?after=%d&limit=%d", conv, after, limit)
	r := h.do(request{method: "GET", path: path, user: d.user.id, device: d.id()})
	expect(h.t, "fetch "+conv, r, http.StatusOK, "")
	var p pageView
	r.decode(h.t, &p)
	return p
}

// open decrypts a fetched message on device d after checking it with the
// sender's verified device list, as a client does.
func (h *harness) open(d *testDevice, m messageView) (*e2ee.Payload, error) {
	sealed, err := e2ee.ParseSealed(m.Sealed)
	if err != nil {
		return nil, err
	}
	var sender e2ee.DevicePublic
	for _, dp := range h.recipients(m.Sender.UserID) {
		if dp.DeviceID == m.Sender.DeviceID {
			sender = dp
		}
	}
	plain, err := e2ee.Open(d.keys, sealed, sender)
	if err != nil {
		return nil, err
	}
	return e2ee.ParsePayload(plain)
}

func path(parts ...string) string { return "/api/v1/" + strings.Join(parts, "/") }
