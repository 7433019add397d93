package messaging

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/store"
)

// createUpload starts an upload as d and returns its view.
func (h *harness) createUpload(d *testDevice, conv string, size int64) (uploadView, response) {
	h.t.Helper()
	r := h.doJSON("POST", "/api/v1/attachments", d.user.id, d.id(),
		map[string]any{"conversation_id": conv, "size": size})
	var v uploadView
	if r.status == http.StatusCreated {
		r.decode(h.t, &v)
	}
	return v, r
}

func (h *harness) putChunk(d *testDevice, id string, offset int64, chunk []byte, header map[string]string) response {
	return h.do(request{method: "PUT", path: fmt.Sprintf("/api/v1/attachments/%s/chunks?offset=%d", id, offset),
		user: d.user.id, device: d.id(), contentType: "application/octet-stream", body: chunk, header: header})
}

// upload stores blob as a complete attachment of conv in chunks of chunk
// bytes and returns its id.
func (h *harness) upload(d *testDevice, conv string, blob []byte, chunk int) string {
	h.t.Helper()
	v, r := h.createUpload(d, conv, int64(len(blob)))
	expect(h.t, "create upload", r, http.StatusCreated, "")
	for off := 0; off < len(blob); off += chunk {
		end := min(off+chunk, len(blob))
		expect(h.t, "chunk", h.putChunk(d, v.ID, int64(off), blob[off:end], nil), http.StatusOK, "")
	}
	r = h.do(request{method: "POST", path: "/api/v1/attachments/" + v.ID + "/complete", user: d.user.id, device: d.id()})
	expect(h.t, "complete", r, http.StatusOK, "")
	return v.ID
}

func (h *harness) download(d *testDevice, id string, header map[string]string) response {
	return h.do(request{method: "GET", path: "/api/v1/attachments/" + id, user: d.user.id, device: d.id(), header: header})
}

func TestAttachmentRoundTrip(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	doc := h.register(clinicianID, "desk")

	// The patient encrypts a photo, uploads the stream and sends its key
	// and digest inside a message, as a client does.
	photo := bytes.Repeat([]byte("knee photo pixels "), 10_000)
	key, _ := e2ee.NewAttachmentKey(nil)
	var stream bytes.Buffer
	size, digest, err := e2ee.EncryptAttachment(&stream, bytes.NewReader(photo), key)
	if err != nil {
		t.Fatal(err)
	}
	id := h.upload(phone, consultConv, stream.Bytes(), 50_000)
	ref := e2ee.AttachmentRef{ID: id, Name: "knee.jpg", MediaType: "image/jpeg", Size: size, Key: key, Digest: digest}
	m := h.seal(phone, consultConv, "the photo", h.recipients(patientID, clinicianID), ref)
	expect(t, "send", h.post(phone, consultConv, m.Marshal()), http.StatusCreated, "")

	page := h.fetch(doc, consultConv, 0, 10)
	payload, err := h.open(doc, page.Messages[0])
	if err != nil {
		t.Fatal(err)
	}
	got := payload.Attachments[0]
	r := h.download(doc, got.ID, nil)
	expect(t, "download", r, http.StatusOK, "")
	var plain bytes.Buffer
	if _, err := e2ee.DecryptAttachment(&plain, bytes.NewReader(r.body), got.Key, got.Digest); err != nil {
		t.Fatalf("decrypt downloaded attachment: %v", err)
	}
	if !bytes.Equal(plain.Bytes(), photo) {
		t.Fatal("decrypted attachment differs from the photo")
	}

	r = h.download(doc, id, map[string]string{"Range": "bytes=100-199"})
	expect(t, "range download", r, http.StatusPartialContent, "")
	if !bytes.Equal(r.body, stream.Bytes()[100:200]) {
		t.Errorf("range download: got %d bytes that differ from bytes 100-199", len(r.body))
	}

	info, err := os.Stat(h.svc.blobPath(id))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("attachment file mode: got %04o, want 0600", perm)
	}
	downloads := h.audit.ofType(audit.TypeAttachmentDownload)
	if len(downloads) != 2 || downloads[0].Detail[audit.DetailBytes] != strconv.Itoa(stream.Len()) ||
		downloads[1].Detail[audit.DetailBytes] != "100" {
		t.Errorf("attachment.download events: got %+v, want bytes %d then 100", downloads, stream.Len())
	}
}

func TestAttachmentResume(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	blob := make([]byte, 3000)
	rand.Read(blob)
	v, r := h.createUpload(phone, consultConv, int64(len(blob)))
	expect(t, "create", r, http.StatusCreated, "")

	expect(t, "first chunk", h.putChunk(phone, v.ID, 0, blob[:1000], nil), http.StatusOK, "")
	r = h.putChunk(phone, v.ID, 0, blob[:1000], nil)
	expect(t, "chunk sent twice", r, http.StatusConflict, "offset_mismatch")
	r = h.do(request{method: "POST", path: "/api/v1/attachments/" + v.ID + "/complete", user: patientID, device: "phone"})
	expect(t, "complete too early", r, http.StatusConflict, "upload_incomplete")

	// The client asks where to resume, then continues with Content-Range.
	r = h.do(request{method: "GET", path: "/api/v1/attachments/" + v.ID + "/upload", user: patientID, device: "phone"})
	expect(t, "status", r, http.StatusOK, "")
	var status uploadView
	r.decode(t, &status)
	if status.Offset != 1000 || status.Complete {
		t.Fatalf("status: got offset %d complete %v, want 1000 false", status.Offset, status.Complete)
	}
	r = h.do(request{method: "PUT", path: "/api/v1/attachments/" + v.ID + "/chunks", user: patientID, device: "phone",
		contentType: "application/octet-stream", body: blob[1000:],
		header: map[string]string{"Content-Range": "bytes 1000-2999/3000"}})
	expect(t, "Content-Range chunk", r, http.StatusOK, "")
	r = h.do(request{method: "POST", path: "/api/v1/attachments/" + v.ID + "/complete", user: patientID, device: "phone"})
	expect(t, "complete", r, http.StatusOK, "")

	r = h.download(phone, v.ID, nil)
	expect(t, "download", r, http.StatusOK, "")
	if !bytes.Equal(r.body, blob) {
		t.Error("downloaded bytes differ from the uploaded ones")
	}
	if n := len(h.audit.ofType(audit.TypeAttachmentUpload)); n != 1 {
		t.Errorf("attachment.upload events: got %d, want 1", n)
	}
}

func TestAttachmentRejects(t *testing.T) {
	h := newHarness(t, Config{MaxAttachmentBytes: 4000, AttachmentQuotaBytes: 10_000, MaxChunkBytes: 2000})
	phone := h.register(patientID, "phone")
	h.register(clinicianID, "desk")
	outsider := h.register(outsiderID, "phone")
	nurse := h.register(nurseID, "tablet")
	blob := bytes.Repeat([]byte{1}, 3000)
	id := h.upload(phone, consultConv, blob, 2000)

	_, r := h.createUpload(phone, consultConv, 4001)
	expect(t, "over max size", r, http.StatusRequestEntityTooLarge, "attachment_too_large")
	_, r = h.createUpload(phone, consultConv, 0)
	expect(t, "empty", r, http.StatusBadRequest, "invalid_size")
	_, r = h.createUpload(outsider, consultConv, 100)
	expect(t, "outsider uploads to the consultation", r, http.StatusNotFound, "not_found")
	for range 2 {
		_, r = h.createUpload(phone, consultConv, 3000)
		expect(t, "within quota", r, http.StatusCreated, "")
	}
	_, r = h.createUpload(phone, consultConv, 1001)
	expect(t, "over quota", r, http.StatusRequestEntityTooLarge, "quota_exceeded")

	// A non-participant gets exactly the response to a missing id. The
	// nurse is in the care team but not a participant of the
	// consultation, and the consultation rule grants the care team.
	missing := h.download(outsider, "0123456789abcdef0123456789abcdef", nil)
	denied := h.download(outsider, id, nil)
	expect(t, "download of a missing id", missing, http.StatusNotFound, "not_found")
	expect(t, "download by a non-participant", denied, http.StatusNotFound, "not_found")
	if !bytes.Equal(missing.body, denied.body) {
		t.Errorf("denied download: got %s, want the missing-id body %s", denied.body, missing.body)
	}
	expect(t, "download by the care team", h.download(nurse, id, nil), http.StatusOK, "")

	// 9000 of 10000 bytes are used, so a 100-byte upload still fits.
	up, r := h.createUpload(phone, careConv, 100)
	expect(t, "small upload within quota", r, http.StatusCreated, "")
	r = h.putChunk(phone, up.ID, 0, make([]byte, 101), nil)
	expect(t, "chunk past the declared size", r, http.StatusRequestEntityTooLarge, "chunk_too_large")
	r = h.putChunk(outsider, up.ID, 0, make([]byte, 10), nil)
	expect(t, "chunk by another user", r, http.StatusNotFound, "not_found")
	r = h.do(request{method: "PUT", path: "/api/v1/attachments/" + up.ID + "/chunks", user: patientID,
		device: "phone", contentType: "application/octet-stream", body: make([]byte, 10)})
	expect(t, "chunk without offset", r, http.StatusBadRequest, "missing_offset")
	r = h.putChunk(phone, up.ID, 0, make([]byte, 10), map[string]string{"Content-Range": "bytes 0-9/99"})
	expect(t, "Content-Range with another total", r, http.StatusBadRequest, "invalid_content_range")
	expect(t, "download unfinished", h.download(phone, up.ID, nil), http.StatusNotFound, "not_found")
}

func TestAttachmentRetentionAndExpiry(t *testing.T) {
	h := newHarness(t, Config{RetentionDays: 30, UploadExpiry: 24 * time.Hour})
	phone := h.register(patientID, "phone")
	h.register(clinicianID, "desk")
	h.send(phone, consultConv, "old message", patientID, clinicianID)
	old := h.upload(phone, consultConv, []byte("old attachment bytes"), 100)
	stalled, _ := h.createUpload(phone, consultConv, 100)

	h.clock.Advance(2 * 24 * time.Hour)
	res, err := h.svc.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res != (SweepResult{Uploads: 1}) {
		t.Errorf("sweep after 2 days: got %+v, want only the stalled upload", res)
	}
	h.send(phone, consultConv, "new message", patientID, clinicianID)

	h.clock.Advance(29 * 24 * time.Hour)
	res, err = h.svc.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res != (SweepResult{Messages: 1, Attachments: 1}) {
		t.Errorf("sweep after 31 days: got %+v, want one message and one attachment", res)
	}
	for _, id := range []string{old, stalled.ID} {
		if _, err := os.Stat(h.svc.blobPath(id)); !os.IsNotExist(err) {
			t.Errorf("file of %s after the sweep: got %v, want it removed", id, err)
		}
	}
	page := h.fetch(phone, consultConv, 0, 10)
	if len(page.Messages) != 1 || page.Messages[0].Seq != 2 {
		t.Errorf("messages after retention: got %+v, want only seq 2", page.Messages)
	}
	if used, _ := h.db.AttachmentUsage(patientID); used != 0 {
		t.Errorf("quota used after the sweep: got %d, want 0", used)
	}
}

func TestOrphanFilesRemoved(t *testing.T) {
	h := newHarness(t, Config{})
	orphan := h.svc.blobPath("0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(orphan, []byte("left over"), 0o600); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * orphanAge)
	os.Chtimes(orphan, past, past)
	h.clock.Advance(time.Since(h.clock.Now()))
	res, err := h.svc.Sweep(t.Context())
	if err != nil || res.Orphans != 1 {
		t.Fatalf("sweep: got %+v, %v, want one orphan", res, err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan after the sweep: got %v, want it removed", err)
	}
}

func TestDeleteConversation(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	h.register(clinicianID, "desk")
	h.send(phone, consultConv, "to be deleted", patientID, clinicianID)
	id := h.upload(phone, consultConv, []byte("attachment to be deleted"), 100)

	r := h.do(request{method: "DELETE", path: path("conversations", consultConv), user: clinicianID})
	expect(t, "delete by a clinician", r, http.StatusForbidden, "forbidden")
	r = h.do(request{method: "DELETE", path: path("conversations", consultConv), user: adminID})
	expect(t, "delete by an administrator", r, http.StatusOK, "")
	var v deleteView
	r.decode(t, &v)
	if v.Messages != 1 || v.Attachments != 1 {
		t.Errorf("deleted: got %+v, want one message and one attachment", v)
	}
	events := h.audit.ofType(TypeConversationDelete)
	if len(events) != 1 || events[0].TargetID != consultConv || events[0].Detail[audit.DetailCount] != "1" {
		t.Errorf("audit: got %+v, want one %s event for %s", events, TypeConversationDelete, consultConv)
	}
	expect(t, "download after delete", h.download(phone, id, nil), http.StatusNotFound, "not_found")
	ack := h.send(phone, consultConv, "after the deletion", patientID, clinicianID)
	if ack.Seq != 2 {
		t.Errorf("seq after deletion: got %d, want 2", ack.Seq)
	}
}

func TestStaffWithoutSecondFactor(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	doc := h.register(clinicianID, "desk")
	h.send(phone, consultConv, "hello", patientID, clinicianID)
	done := h.upload(doc, consultConv, []byte("finished attachment"), 100)
	pending, r := h.createUpload(doc, consultConv, 100)
	expect(t, "create upload", r, http.StatusCreated, "")

	routes := []request{
		{method: "GET", path: "/api/v1/conversations"},
		{method: "GET", path: path("conversations", consultConv, "messages")},
		{method: "POST", path: path("conversations", consultConv, "messages"), contentType: SealedMediaType},
		{method: "GET", path: path("users", patientID, "devices")},
		{method: "GET", path: "/api/v1/attachments/" + done},
		{method: "GET", path: "/api/v1/attachments/0123456789abcdef0123456789abcdef"},
		{method: "GET", path: "/api/v1/attachments/" + pending.ID + "/upload"},
		{method: "PUT", path: "/api/v1/attachments/" + pending.ID + "/chunks?offset=0",
			contentType: "application/octet-stream", body: []byte("x")},
		{method: "POST", path: "/api/v1/attachments/" + pending.ID + "/complete"},
	}
	for _, req := range routes {
		req.user, req.device = clinicianNo2FA, doc.id()
		r := h.do(req)
		expect(t, req.method+" "+req.path, r, http.StatusForbidden, "second_factor_required")
	}
}

func TestUploaderLeavesCareTeam(t *testing.T) {
	h := newHarness(t, Config{})
	nurse := h.register(nurseID, "tablet")
	up, r := h.createUpload(nurse, careConv, 100)
	expect(t, "create upload", r, http.StatusCreated, "")
	expect(t, "first chunk", h.putChunk(nurse, up.ID, 0, make([]byte, 50), nil), http.StatusOK, "")

	_, err := h.db.UpdateCareTeam(patientID, func([]store.CareTeamMember) ([]store.CareTeamMember, error) {
		return []store.CareTeamMember{{UserID: clinicianID, Role: "clinician"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r = h.putChunk(nurse, up.ID, 50, make([]byte, 50), nil)
	expect(t, "chunk after leaving the care team", r, http.StatusNotFound, "not_found")
	r = h.do(request{method: "GET", path: "/api/v1/conversations", user: nurseID})
	expect(t, "list after leaving", r, http.StatusOK, "")
	var list map[string][]conversationView
	r.decode(t, &list)
	if len(list["conversations"]) != 0 {
		t.Errorf("conversations after leaving the care team: got %+v, want none", list["conversations"])
	}
}
