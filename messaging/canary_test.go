package messaging

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/bedside-health/bedside/e2ee"
)

// TestPlaintextNeverStored sends distinctive plaintext through real e2ee
// sealing, with an attachment, and then searches the database file, the
// attachment files, a backup and the server log for it, and for the keys
// that decrypt it.
func TestPlaintextNeverStored(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	doc := h.register(clinicianID, "desk")
	nurse := h.register(nurseID, "tablet")

	const textCanary = "CANARY-7f3a9c the rash spread to my left arm overnight"
	photoCanary := bytes.Repeat([]byte("CANARY-b41e2d photo of the rash "), 5000)
	key, err := e2ee.NewAttachmentKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	size, digest, err := e2ee.EncryptAttachment(&stream, bytes.NewReader(photoCanary), key)
	if err != nil {
		t.Fatal(err)
	}
	id := h.upload(phone, consultConv, stream.Bytes(), 64<<10)
	ref := e2ee.AttachmentRef{ID: id, Name: "rash.jpg", MediaType: "image/jpeg", Size: size, Key: key, Digest: digest}
	sealed := h.seal(phone, consultConv, textCanary, h.recipients(patientID, clinicianID), ref)
	expect(t, "send", h.post(phone, consultConv, sealed.Marshal()), http.StatusCreated, "")
	h.send(nurse, careConv, textCanary+" (care thread)", patientID, clinicianID, nurseID)

	// The clinician reads everything, so the fetch and download paths
	// run and log too.
	page := h.fetch(doc, consultConv, 0, 10)
	payload, err := h.open(doc, page.Messages[0])
	if err != nil || payload.Text != textCanary {
		t.Fatalf("clinician opens the message: got %v, %v; the canary must arrive", payload, err)
	}
	expect(t, "download", h.download(doc, id, nil), http.StatusOK, "")
	h.fetch(phone, careConv, 0, 10)

	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := h.db.BackupFile(backup); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"log": h.logs.Bytes()}
	for _, p := range []string{h.db.Path(), backup} {
		files[p] = readFile(t, p)
	}
	filepath.WalkDir(filepath.Join(h.dir, AttachmentDirName), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files[p] = readFile(t, p)
		}
		return err
	})

	secrets := map[string][]byte{
		"message text":   []byte("CANARY-7f3a9c"),
		"attachment":     []byte("CANARY-b41e2d"),
		"attachment key": key[:],
		"identity seed":  h.user(patientID).identity.Seed(),
	}
	for _, d := range []*testDevice{phone, doc, nurse} {
		raw, _ := d.keys.MarshalBinary()
		secrets["private keys of "+d.id()] = raw[len(raw)-64:] // X25519 key and Ed25519 seed
	}
	for name, secret := range secrets {
		forms := [][]byte{secret, []byte(base64.StdEncoding.EncodeToString(secret)), []byte(fmt.Sprintf("%x", secret))}
		for file, content := range files {
			for _, form := range forms {
				if n := bytes.Count(content, form); n != 0 {
					t.Errorf("%s found %d times in %s", name, n, file)
				}
			}
		}
	}

	// The search must be able to fail: what the server does store, the
	// ciphertext, is found where it should be.
	if !bytes.Contains(files[h.db.Path()], sealed.Ciphertext[:64]) {
		t.Error("message ciphertext not found in the database file: the search reads the wrong file")
	}
	if !bytes.Contains(files[h.svc.blobPath(id)], stream.Bytes()[1000:1064]) {
		t.Error("attachment ciphertext not found in its file: the search reads the wrong file")
	}
	if len(files["log"]) == 0 {
		t.Error("the server log is empty: the search covers no log lines")
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
