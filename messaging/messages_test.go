package messaging

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/e2ee"
)

func TestSendAndFetch(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	laptop := h.register(patientID, "laptop")
	doc := h.register(clinicianID, "desk")

	ack1 := h.send(phone, consultConv, "my knee hurts when I climb stairs", patientID, clinicianID)
	ack2 := h.send(doc, consultConv, "please send a photo", patientID, clinicianID)
	if ack1.Seq != 1 || ack2.Seq != 2 {
		t.Fatalf("seqs: got %d and %d, want 1 and 2", ack1.Seq, ack2.Seq)
	}

	tests := []struct {
		device *testDevice
		want   []string
	}{
		{doc, []string{"my knee hurts when I climb stairs", ""}}, // its own message has no envelope
		{laptop, []string{"my knee hurts when I climb stairs", "please send a photo"}},
		{phone, []string{"", "please send a photo"}},
	}
	for _, tt := range tests {
		page := h.fetch(tt.device, consultConv, 0, 10)
		if len(page.Messages) != 2 || page.NextCursor != 2 || page.HasMore {
			t.Fatalf("%s: got %d messages, next %d, more %v; want 2, 2, false",
				tt.device.id(), len(page.Messages), page.NextCursor, page.HasMore)
		}
		for i, m := range page.Messages {
			payload, err := h.open(tt.device, m)
			own := m.Sender.DeviceID == tt.device.id()
			switch {
			case own && e2ee.Code(err) != "not_recipient":
				t.Errorf("%s opening its own message: got %v, want not_recipient", tt.device.id(), err)
			case !own && err != nil:
				t.Errorf("%s opening message %d: %v", tt.device.id(), m.Seq, err)
			case !own && payload.Text != tt.want[i]:
				t.Errorf("%s message %d: got %q, want %q", tt.device.id(), m.Seq, payload.Text, tt.want[i])
			}
		}
	}

	// A recipient's copy holds its own envelope and zeros for the others.
	page := h.fetch(laptop, consultConv, 0, 1)
	sealed, err := e2ee.ParseSealed(page.Messages[0].Sealed)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range sealed.Envelopes {
		zero := !slices.ContainsFunc(env.Ciphertext, func(b byte) bool { return b != 0 })
		if mine := env.Recipient == laptop.keys.Ref(); mine == zero {
			t.Errorf("envelope for %s in laptop's copy: zero %v, want zero %v", env.Recipient, zero, !mine)
		}
	}
	if !page.HasMore || page.NextCursor != 1 {
		t.Errorf("first page of one: got next %d more %v, want 1 true", page.NextCursor, page.HasMore)
	}

	if n := len(h.audit.ofType(audit.TypeMessageSend)); n != 2 {
		t.Errorf("message.send events: got %d, want 2", n)
	}
	fetches := h.audit.ofType(audit.TypeMessageFetch)
	if len(fetches) == 0 || fetches[0].Detail[audit.DetailCount] != "2" {
		t.Errorf("message.fetch events: got %+v, want count 2 first", fetches)
	}
	notes := h.notes.all()
	want := notification{[]string{patientID, clinicianID}, consultConv, ack1.MessageID}
	if len(notes) != 2 || !reflect.DeepEqual(notes[0], want) {
		t.Errorf("notifications: got %+v, want first %+v", notes, want)
	}
}

func TestCareThreadMembers(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	nurse := h.register(nurseID, "tablet")
	h.register(clinicianID, "desk")
	h.register(outsiderID, "phone")

	h.send(nurse, careConv, "how is the wound today?", patientID, clinicianID, nurseID)
	page := h.fetch(phone, careConv, 0, 10)
	if len(page.Messages) != 1 {
		t.Fatalf("patient's care thread: got %d messages, want 1", len(page.Messages))
	}
	payload, err := h.open(phone, page.Messages[0])
	if err != nil || payload.Text != "how is the wound today?" {
		t.Fatalf("open: got %v, %v", payload, err)
	}

	r := h.do(request{method: "GET", path: path("conversations", careConv, "messages"), user: outsiderID, device: "phone"})
	expect(t, "outsider fetches the care thread", r, http.StatusNotFound, "not_found")

	r = h.do(request{method: "GET", path: "/api/v1/conversations", user: nurseID})
	expect(t, "nurse lists conversations", r, http.StatusOK, "")
	var list map[string][]conversationView
	r.decode(t, &list)
	if got := list["conversations"]; len(got) != 1 || got[0].ID != careConv || got[0].LastSeq != 1 {
		t.Errorf("nurse's conversations: got %+v, want the care thread at seq 1", got)
	}
}

func TestSendStaleDevices(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	h.register(clinicianID, "desk")
	old := h.recipients(patientID, clinicianID)

	// The clinician adds a tablet and revokes the desk after the patient
	// fetched the lists.
	h.register(clinicianID, "tablet")
	r := h.do(request{method: "DELETE", path: path("devices", "desk"), user: clinicianID})
	expect(t, "revoke desk", r, http.StatusOK, "")

	m := h.seal(phone, consultConv, "sealed to yesterday's devices", old)
	r = h.post(phone, consultConv, m.Marshal())
	expect(t, "send to stale devices", r, http.StatusConflict, "stale_devices")
	var body struct {
		Error struct {
			Details struct {
				Missing []deviceRefView `json:"missing"`
				Stale   []deviceRefView `json:"stale"`
			} `json:"details"`
		} `json:"error"`
	}
	r.decode(t, &body)
	wantMissing := []deviceRefView{{clinicianID, "tablet"}}
	wantStale := []deviceRefView{{clinicianID, "desk"}}
	if !reflect.DeepEqual(body.Error.Details.Missing, wantMissing) {
		t.Errorf("missing: got %+v, want %+v", body.Error.Details.Missing, wantMissing)
	}
	if !reflect.DeepEqual(body.Error.Details.Stale, wantStale) {
		t.Errorf("stale: got %+v, want %+v", body.Error.Details.Stale, wantStale)
	}

	// After refetching, the retry goes through.
	h.send(phone, consultConv, "sealed to today's devices", patientID, clinicianID)
}

func TestSendIdempotent(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	h.register(clinicianID, "desk")
	recipients := h.recipients(patientID, clinicianID)

	wire := h.seal(phone, consultConv, "once", recipients).Marshal()
	first := h.post(phone, consultConv, wire)
	expect(t, "first send", first, http.StatusCreated, "")
	retry := h.post(phone, consultConv, wire)
	expect(t, "retry", retry, http.StatusOK, "")
	if !bytes.Equal(first.body, retry.body) {
		t.Errorf("retry acknowledgement: got %s, want %s", retry.body, first.body)
	}

	// Seal takes the message id from the first 16 bytes of rand.
	sealWithID := func(text string) []byte {
		payload, _ := (&e2ee.Payload{Text: text}).MarshalBinary()
		rand := bytes.NewReader(append(bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{byte(len(text))}, 32)...))
		m, err := e2ee.Seal(rand, phone.keys, e2ee.Message{ConversationID: consultConv,
			ContentType: e2ee.ContentMessage, Time: h.clock.Now(), Payload: payload}, recipients[1:])
		if err != nil {
			t.Fatal(err)
		}
		return m.Marshal()
	}
	expect(t, "new id", h.post(phone, consultConv, sealWithID("first text")), http.StatusCreated, "")
	expect(t, "same id, other content", h.post(phone, consultConv, sealWithID("other text!")),
		http.StatusConflict, "message_id_reused")

	page := h.fetch(phone, consultConv, 0, 10)
	if len(page.Messages) != 2 {
		t.Errorf("stored messages: got %d, want 2", len(page.Messages))
	}
	if n := len(h.audit.ofType(audit.TypeMessageSend)); n != 2 {
		t.Errorf("message.send events: got %d, want 2", n)
	}
}

func TestSendRejectsBadInput(t *testing.T) {
	h := newHarness(t, Config{MaxMessageBytes: 4096, MaxEnvelopes: 2})
	phone := h.register(patientID, "phone")
	doc := h.register(clinicianID, "desk")
	h.register(outsiderID, "phone")
	recipients := h.recipients(patientID, clinicianID)
	good := h.seal(phone, consultConv, "fine", recipients).Marshal()

	flipped := bytes.Clone(good)
	flipped[120] ^= 1 // inside the ciphertext, after the header and commitment
	forOtherConv := h.seal(phone, careConv, "wrong conversation", recipients).Marshal()
	fromDoc := h.seal(doc, consultConv, "signed by another device", recipients).Marshal()
	big := h.seal(phone, consultConv, strings.Repeat("x", 5000), recipients).Marshal()
	h.register(clinicianID, "tablet")
	h.register(clinicianID, "watch")
	tooMany := h.seal(phone, consultConv, "four envelopes", h.recipients(patientID, clinicianID)).Marshal()

	tests := []struct {
		name        string
		user        string
		device      string
		conv        string
		contentType string
		body        []byte
		status      int
		code        string
	}{
		{"no session", "", "phone", consultConv, SealedMediaType, good, http.StatusUnauthorized, "unauthenticated"},
		{"no device header", patientID, "", consultConv, SealedMediaType, good, http.StatusBadRequest, "device_required"},
		{"device of another user", patientID, "desk", consultConv, SealedMediaType, good,
			http.StatusForbidden, "unknown_device"},
		{"unknown device", patientID, "toaster", consultConv, SealedMediaType, good, http.StatusForbidden, "unknown_device"},
		{"non-participant", outsiderID, "phone", consultConv, SealedMediaType, good, http.StatusNotFound, "not_found"},
		{"unknown conversation", patientID, "phone", "consultation:nosuch", SealedMediaType, good,
			http.StatusNotFound, "not_found"},
		{"malformed conversation id", patientID, "phone", "nonsense", SealedMediaType, good,
			http.StatusNotFound, "not_found"},
		{"JSON content type", patientID, "phone", consultConv, "application/json", good,
			http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"garbage body", patientID, "phone", consultConv, SealedMediaType, []byte("hello"),
			http.StatusBadRequest, "invalid_message"},
		{"truncated message", patientID, "phone", consultConv, SealedMediaType, good[:len(good)-1],
			http.StatusBadRequest, "invalid_message"},
		{"flipped bit", patientID, "phone", consultConv, SealedMediaType, flipped, http.StatusBadRequest, "invalid_message"},
		{"header names another conversation", patientID, "phone", consultConv, SealedMediaType, forOtherConv,
			http.StatusBadRequest, "conversation_mismatch"},
		{"header names another sender", patientID, "phone", consultConv, SealedMediaType, fromDoc,
			http.StatusBadRequest, "sender_mismatch"},
		{"over the size limit", patientID, "phone", consultConv, SealedMediaType, big,
			http.StatusRequestEntityTooLarge, "body_too_large"},
		{"too many envelopes", patientID, "phone", consultConv, SealedMediaType, tooMany,
			http.StatusRequestEntityTooLarge, "too_many_envelopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(request{method: "POST", path: path("conversations", tt.conv, "messages"), user: tt.user,
				device: tt.device, contentType: tt.contentType, body: tt.body})
			expect(t, tt.name, r, tt.status, tt.code)
		})
	}
	if c, err := h.db.Conversation(consultConv); err == nil {
		t.Errorf("conversation after rejected sends: got last seq %d, want no conversation", c.LastSeq)
	}
}

// TestSendTruncatedBody sends fewer bytes than Content-Length declares and
// closes the connection; the server stores nothing and keeps serving.
func TestSendTruncatedBody(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	h.register(clinicianID, "desk")
	wire := h.seal(phone, consultConv, "cut short", h.recipients(patientID, clinicianID)).Marshal()

	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /api/v1/conversations/%s/messages HTTP/1.1\r\nHost: x\r\n%s: %s\r\n%s: %s\r\n"+
		"Content-Type: %s\r\nContent-Length: %d\r\n\r\n",
		consultConv, testUserHeader, patientID, DeviceHeader, "phone", SealedMediaType, len(wire))
	conn.Write(wire[:len(wire)/2])
	conn.(*net.TCPConn).CloseWrite()
	reply := make([]byte, 512)
	n, _ := conn.Read(reply)
	conn.Close()
	if !bytes.Contains(reply[:n], []byte("400")) || !bytes.Contains(reply[:n], []byte("truncated_body")) {
		t.Errorf("reply to a truncated body: got %q, want 400 truncated_body", reply[:n])
	}
	if _, err := h.db.Conversation(consultConv); err == nil {
		t.Error("a truncated message was stored")
	}
	h.send(phone, consultConv, "whole", patientID, clinicianID)
}

func TestMarkers(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	doc := h.register(clinicianID, "desk")
	for i := range 3 {
		h.send(phone, consultConv, fmt.Sprintf("message %d", i), patientID, clinicianID)
	}
	mark := func(kind string, seq uint64) response {
		return h.doJSON("POST", path("conversations", consultConv, kind), clinicianID, doc.id(),
			map[string]uint64{"seq": seq})
	}
	steps := []struct {
		kind   string
		seq    uint64
		status int
		want   uint64
	}{
		{"delivered", 2, http.StatusOK, 2},
		{"delivered", 1, http.StatusOK, 2}, // never moves back
		{"read", 3, http.StatusOK, 3},
		{"read", 4, http.StatusBadRequest, 0},
	}
	for _, s := range steps {
		r := mark(s.kind, s.seq)
		expect(t, fmt.Sprintf("%s %d", s.kind, s.seq), r, s.status, "")
		if s.status != http.StatusOK {
			continue
		}
		var v markerView
		r.decode(t, &v)
		if v.Seq != s.want {
			t.Errorf("%s %d: got marker %d, want %d", s.kind, s.seq, v.Seq, s.want)
		}
	}

	r := h.do(request{method: "GET", path: path("conversations", consultConv), user: patientID, device: phone.id()})
	expect(t, "conversation detail", r, http.StatusOK, "")
	var d conversationDetail
	r.decode(t, &d)
	if d.LastSeq != 3 || d.Read[clinicianID] != 3 || len(d.Members) != 2 {
		t.Errorf("detail: got %+v, want last 3, clinician read 3, two members", d)
	}
}

// TestConcurrentSends posts from many goroutines at once, so that bbolt
// groups them into batches, and checks that every message got its own
// sequence number and arrives whole.
func TestConcurrentSends(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	doc := h.register(clinicianID, "desk")
	recipients := h.recipients(patientID, clinicianID)
	const senders, each = 16, 10
	wires := make([][]byte, senders*each)
	for i := range wires {
		wires[i] = h.seal(phone, consultConv, fmt.Sprintf("concurrent %d", i), recipients).Marshal()
	}

	done := make(chan error, senders)
	for s := range senders {
		go func() {
			for i := s * each; i < (s+1)*each; i++ {
				r := h.post(phone, consultConv, wires[i])
				if r.status != http.StatusCreated {
					done <- fmt.Errorf("message %d: got status %d (%s), want 201", i, r.status, r.body)
					return
				}
			}
			done <- nil
		}()
	}
	deadline := time.After(60 * time.Second)
	for range senders {
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-deadline:
			t.Fatal("concurrent sends did not finish within 60s")
		}
	}

	texts := map[string]bool{}
	for after := uint64(0); ; {
		page := h.fetch(doc, consultConv, after, 100)
		for _, m := range page.Messages {
			if m.Seq != uint64(len(texts)+1) {
				t.Fatalf("seq: got %d, want %d", m.Seq, len(texts)+1)
			}
			payload, err := h.open(doc, m)
			if err != nil {
				t.Fatalf("open message %d: %v", m.Seq, err)
			}
			texts[payload.Text] = true
		}
		if !page.HasMore {
			break
		}
		after = page.NextCursor
	}
	if len(texts) != senders*each {
		t.Errorf("distinct messages fetched: got %d, want %d", len(texts), senders*each)
	}
}
