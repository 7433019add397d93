package e2ee_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/e2ee/vectors"
)

const vectorDir = "../testdata/e2ee"

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// checkMessage runs the verifier steps of a message vector and returns the
// server outcome, the recipient outcome and the opened payload.
func checkMessage(t *testing.T, devices map[string]vectors.DeviceJSON, v vectors.MessageVector) (string, string, []byte) {
	t.Helper()
	m, err := e2ee.ParseSealed(v.Sealed)
	if err != nil {
		return e2ee.Code(err), e2ee.Code(err), nil
	}
	sender, ok := devices[v.Sender]
	if !ok {
		t.Fatalf("unknown sender %q", v.Sender)
	}
	serverErr := verifySender(m, sender.Public())
	if serverErr != nil {
		return e2ee.Code(serverErr), e2ee.Code(serverErr), nil
	}
	recipient, err := devices[v.Recipient].Keys()
	if err != nil {
		t.Fatalf("recipient keys: %v", err)
	}
	payload, err := e2ee.Open(recipient, m, sender.Public())
	return "ok", e2ee.Code(err), payload
}

// verifySender is what the server does: the header's sender must be the
// device whose key it looked up, and the signature must verify.
func verifySender(m *e2ee.SealedMessage, sender e2ee.DevicePublic) error {
	if m.Header.Sender() != sender.Ref() {
		return e2ee.ErrSenderMismatch
	}
	return m.VerifySignature(sender.SigningKey)
}

func TestMessageVectors(t *testing.T) {
	var f vectors.MessagesFile
	loadJSON(t, "messages.json", &f)
	if len(f.Vectors) < 30 {
		t.Fatalf("got %d message vectors, want at least 30", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			server, recipient, payload := checkMessage(t, f.Devices, v)
			if server != v.ServerExpect {
				t.Errorf("server outcome: got %s, want %s", server, v.ServerExpect)
			}
			if recipient != v.Expect {
				t.Errorf("recipient outcome: got %s, want %s", recipient, v.Expect)
			}
			if v.Expect != "ok" {
				return
			}
			if !bytes.Equal(payload, v.Payload) {
				t.Errorf("payload: got %x, want %x", payload, v.Payload)
			}
			m, err := e2ee.ParseSealed(v.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if v.Header != nil {
				if got := vectors.HeaderToJSON(&m.Header); *got != *v.Header {
					t.Errorf("header: got %+v, want %+v", *got, *v.Header)
				}
			}
			var refs []string
			for _, r := range m.Recipients() {
				refs = append(refs, r.String())
			}
			if !slices.Equal(refs, v.Recipients) {
				t.Errorf("recipients: got %v, want %v", refs, v.Recipients)
			}
			if !bytes.Equal(m.Marshal(), v.Sealed) {
				t.Error("re-encoding the parsed message changed its bytes")
			}
		})
	}
}

// TestMessageVectorsFromTypeScript opens the messages the browser
// implementation sealed (npm run vectors:e2ee in clients/web writes
// from-ts.json).
func TestMessageVectorsFromTypeScript(t *testing.T) {
	var f vectors.MessagesFile
	loadJSON(t, "from-ts.json", &f)
	if len(f.Vectors) == 0 {
		t.Fatal("from-ts.json has no vectors")
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			server, recipient, payload := checkMessage(t, f.Devices, v)
			if server != v.ServerExpect || recipient != v.Expect {
				t.Fatalf("outcome: got server %s recipient %s, want %s and %s", server, recipient, v.ServerExpect, v.Expect)
			}
			if v.Expect == "ok" && !bytes.Equal(payload, v.Payload) {
				t.Errorf("payload: got %x, want %x", payload, v.Payload)
			}
		})
	}
}

func TestDeviceVectors(t *testing.T) {
	var f vectors.DevicesFile
	loadJSON(t, "devices.json", &f)
	key := func(name string) ed25519.PublicKey {
		id, ok := f.Identities[name]
		if !ok {
			t.Fatalf("unknown identity %q", name)
		}
		return ed25519.PublicKey(id.PublicKey)
	}
	for _, v := range f.Certificates {
		t.Run("certificate/"+v.Name, func(t *testing.T) {
			c, err := e2ee.ParseDeviceCertificate(v.Certificate)
			if err == nil {
				err = c.Verify(key(v.Identity))
			}
			if got := e2ee.Code(err); got != v.Expect {
				t.Fatalf("got %s, want %s (%v)", got, v.Expect, err)
			}
			if v.Expect != "ok" {
				return
			}
			want := f.Devices[v.Device].Public()
			if c.Device.Ref() != want.Ref() || !bytes.Equal(c.Device.HPKEKey, want.HPKEKey) ||
				!bytes.Equal(c.Device.SigningKey, want.SigningKey) {
				t.Errorf("device: got %+v, want %+v", c.Device, want)
			}
			if c.Created.UnixMilli() != v.CreatedMs {
				t.Errorf("created: got %d, want %d", c.Created.UnixMilli(), v.CreatedMs)
			}
		})
	}
	lists := map[string]*e2ee.DeviceList{}
	for _, v := range f.Lists {
		t.Run("list/"+v.Name, func(t *testing.T) {
			l, err := e2ee.ParseDeviceList(v.List)
			if err == nil {
				err = e2ee.VerifyDeviceList(key(v.PinnedIdentity), l)
			}
			if got := e2ee.Code(err); got != v.Expect {
				t.Fatalf("got %s, want %s (%v)", got, v.Expect, err)
			}
			if v.Expect != "ok" {
				return
			}
			lists[v.Name] = l
			var ids []string
			for _, d := range l.Devices() {
				ids = append(ids, d.DeviceID)
			}
			if l.UserID != v.UserID || l.Version != v.Version || l.Issued.UnixMilli() != v.IssuedMs ||
				!slices.Equal(ids, v.DeviceIDs) {
				t.Errorf("list: got %s v%d %d %v, want %s v%d %d %v",
					l.UserID, l.Version, l.Issued.UnixMilli(), ids, v.UserID, v.Version, v.IssuedMs, v.DeviceIDs)
			}
		})
	}
	for _, v := range f.Updates {
		t.Run("update/"+v.Name, func(t *testing.T) {
			prev, next := lists[v.Previous], lists[v.Next]
			if prev == nil || next == nil {
				t.Fatalf("lists %q and %q must be accepted vectors", v.Previous, v.Next)
			}
			if got := e2ee.Code(e2ee.CheckDeviceListUpdate(prev, next)); got != v.Expect {
				t.Fatalf("got %s, want %s", got, v.Expect)
			}
		})
	}
	for _, v := range f.Comparisons {
		t.Run("compare/"+v.Name, func(t *testing.T) {
			uncertified, missing := e2ee.CompareDevices(lists[v.List], v.ServerDeviceIDs)
			if !slices.Equal(uncertified, v.Uncertified) || !slices.Equal(missing, v.Missing) {
				t.Fatalf("got uncertified %v missing %v, want %v and %v", uncertified, missing, v.Uncertified, v.Missing)
			}
		})
	}
}

func TestAttachmentVectors(t *testing.T) {
	var f vectors.AttachmentsFile
	loadJSON(t, "attachments.json", &f)
	if f.ChunkSize != e2ee.AttachmentChunkSize {
		t.Fatalf("chunk size: got %d, want %d", f.ChunkSize, e2ee.AttachmentChunkSize)
	}
	streams := map[string][]byte{}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			stream := []byte(v.Stream)
			if v.Segments != nil {
				var err error
				if stream, err = vectors.AssembleSegments(v.Segments, streams); err != nil {
					t.Fatal(err)
				}
			} else {
				streams[v.Name] = stream
			}
			var key e2ee.AttachmentKey
			var digest [32]byte
			copy(key[:], v.Key)
			copy(digest[:], v.Digest)
			var out bytes.Buffer
			n, err := e2ee.DecryptAttachment(&out, bytes.NewReader(stream), key, digest)
			if got := e2ee.Code(err); got != v.Expect {
				t.Fatalf("got %s, want %s (%v)", got, v.Expect, err)
			}
			if v.Expect == "ok" {
				want := vectors.PatternPlaintext(v.PlaintextSize)
				if n != int64(len(want)) || !bytes.Equal(out.Bytes(), want) {
					t.Fatalf("plaintext: got %d bytes, want %d", n, len(want))
				}
			}
		})
	}
}

func TestPayloadVectors(t *testing.T) {
	var f vectors.PayloadsFile
	loadJSON(t, "payloads.json", &f)
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			p, err := e2ee.ParsePayload(v.Payload)
			if got := e2ee.Code(err); got != v.Expect {
				t.Fatalf("got %s, want %s (%v)", got, v.Expect, err)
			}
			if v.Expect != "ok" {
				return
			}
			if p.Text != v.Text || len(p.Attachments) != len(v.Attachments) {
				t.Fatalf("payload: got %q with %d attachments, want %q with %d",
					p.Text, len(p.Attachments), v.Text, len(v.Attachments))
			}
			for i, a := range p.Attachments {
				w := v.Attachments[i]
				if a.ID != w.ID || a.Name != w.Name || a.MediaType != w.MediaType || a.Size != w.Size ||
					!bytes.Equal(a.Key[:], w.Key) || !bytes.Equal(a.Digest[:], w.Digest) {
					t.Errorf("attachment %d: got %+v, want %+v", i, a, w)
				}
			}
			again, err := p.MarshalBinary()
			if err != nil || !bytes.Equal(again, v.Payload) {
				t.Errorf("re-encoding: got %x (%v), want %x", again, err, v.Payload)
			}
		})
	}
}

func TestPaddingVectors(t *testing.T) {
	var f vectors.PaddingFile
	loadJSON(t, "padding.json", &f)
	for _, p := range f.Lengths {
		if got := e2ee.PaddedSize(p.PayloadLength); got != p.PaddedSize {
			t.Errorf("PaddedSize(%d): got %d, want %d", p.PayloadLength, got, p.PaddedSize)
		}
	}
	for _, b := range f.BlockSizes {
		// ParseSealed enforces block sizes through the ciphertext length.
		if got := e2ee.ValidPaddedSize(b.Size); got != b.Valid {
			t.Errorf("ValidPaddedSize(%d): got %v, want %v", b.Size, got, b.Valid)
		}
	}
}

func TestSafetyVectors(t *testing.T) {
	var f vectors.SafetyFile
	loadJSON(t, "safety.json", &f)
	if !slices.Equal(f.WordList, e2ee.SafetyWordList()) {
		t.Fatal("the embedded word list differs from safety.json")
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			sn, err := e2ee.ComputeSafetyNumber(v.UserA, ed25519.PublicKey(v.KeyA), v.UserB, ed25519.PublicKey(v.KeyB))
			if err != nil {
				t.Fatal(err)
			}
			if sn.Digits != v.Digits || sn.DigitGroups() != v.DigitGroups || !slices.Equal(sn.Words, v.Words) {
				t.Fatalf("got %s, want %s / %v", sn, v.DigitGroups, v.Words)
			}
		})
	}
}

func TestReplayVectors(t *testing.T) {
	var f vectors.ReplayFile
	loadJSON(t, "replay.json", &f)
	g := e2ee.NewReplayGuard(f.Capacity)
	for i, s := range f.Steps {
		id, err := e2ee.ParseMessageID(s.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		h := e2ee.Header{MessageID: id, Time: time.UnixMilli(s.TimeMs)}
		if got := e2ee.Code(g.Accept(&h)); got != s.Expect {
			t.Errorf("step %d (%s at %d): got %s, want %s", i, s.MessageID, s.TimeMs, got, s.Expect)
		}
	}
	state, err := g.MarshalBinary()
	if err != nil || !bytes.Equal(state, f.FinalState) {
		t.Fatalf("final state: got %x (%v), want %x", state, err, []byte(f.FinalState))
	}
	restored := e2ee.NewReplayGuard(f.Capacity)
	if err := restored.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	again, _ := restored.MarshalBinary()
	if !bytes.Equal(again, state) {
		t.Fatalf("restored state: got %x, want %x", again, state)
	}
}

// TestMutationVectors applies each edit of mutations.json to its base
// message and requires the outcomes the file records.
func TestMutationVectors(t *testing.T) {
	var messages vectors.MessagesFile
	loadJSON(t, "messages.json", &messages)
	var f vectors.MutationsFile
	loadJSON(t, "mutations.json", &f)
	var base []byte
	for _, v := range messages.Vectors {
		if v.Name == f.Base {
			base = v.Sealed
		}
	}
	if base == nil || len(f.Mutations) < 1000 {
		t.Fatalf("base %q or mutations missing (%d)", f.Base, len(f.Mutations))
	}
	recipient, err := messages.Devices[f.Recipient].Keys()
	if err != nil {
		t.Fatal(err)
	}
	for i, mu := range f.Mutations {
		mutated, err := mu.Apply(base)
		if err != nil {
			t.Fatal(err)
		}
		server, got := vectors.Outcome(mutated, messages.Devices[f.Sender], recipient)
		if server != mu.ServerExpect || got != mu.Expect {
			t.Errorf("mutation %d (%s at %d bit %d): got %s/%s, want %s/%s",
				i, mu.Op, mu.At, mu.Bit, server, got, mu.ServerExpect, mu.Expect)
		}
	}
}
