package e2ee_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/e2ee/vectors"
)

// The fuzz targets cover every parser of untrusted bytes. Their seeds come
// from testdata/e2ee, so plain go test runs each seed once.

func FuzzParseSealed(f *testing.F) {
	var file vectors.MessagesFile
	loadJSON(f, "messages.json", &file)
	for _, v := range file.Vectors {
		f.Add([]byte(v.Sealed))
	}
	recipient, err := file.Devices["clinician-desktop"].Keys()
	if err != nil {
		f.Fatal(err)
	}
	sender := file.Devices["patient-phone"].Public()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := e2ee.ParseSealed(data)
		if err != nil {
			if e2ee.Code(err) == "error" {
				t.Fatalf("error without a reject code: %v", err)
			}
			return
		}
		if !bytes.Equal(m.Marshal(), data) {
			t.Fatal("an accepted encoding is not canonical")
		}
		_ = m.Recipients()
		if _, err := e2ee.Open(recipient, m, sender); err != nil && e2ee.Code(err) == "error" {
			t.Fatalf("open error without a reject code: %v", err)
		}
	})
}

func FuzzParseDeviceCertificate(f *testing.F) {
	var file vectors.DevicesFile
	loadJSON(f, "devices.json", &file)
	for _, v := range file.Certificates {
		f.Add([]byte(v.Certificate))
	}
	key := file.Identities["patient"].PublicKey
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := e2ee.ParseDeviceCertificate(data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Bytes(), data) {
			t.Fatal("an accepted certificate does not re-encode to its input")
		}
		_ = c.Verify([]byte(key))
	})
}

func FuzzParseDeviceList(f *testing.F) {
	var file vectors.DevicesFile
	loadJSON(f, "devices.json", &file)
	for _, v := range file.Lists {
		f.Add([]byte(v.List))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := e2ee.ParseDeviceList(data)
		if err != nil {
			return
		}
		if !bytes.Equal(l.Bytes(), data) {
			t.Fatal("an accepted list does not re-encode to its input")
		}
		if len(l.Certificates) == 0 || len(l.Certificates) > e2ee.MaxDevices {
			t.Fatalf("accepted a list of %d devices", len(l.Certificates))
		}
		_ = e2ee.VerifyDeviceList(l.IdentityKey, l)
	})
}

func FuzzParsePayload(f *testing.F) {
	var file vectors.PayloadsFile
	loadJSON(f, "payloads.json", &file)
	for _, v := range file.Vectors {
		f.Add([]byte(v.Payload))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := e2ee.ParsePayload(data)
		if err != nil {
			if e2ee.Code(err) != "invalid_payload" {
				t.Fatalf("got code %s, want invalid_payload", e2ee.Code(err))
			}
			return
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("an accepted payload does not re-encode to its input: %v", err)
		}
	})
}

func FuzzAttachmentReader(f *testing.F) {
	var file vectors.AttachmentsFile
	loadJSON(f, "attachments.json", &file)
	var key e2ee.AttachmentKey
	var digest [32]byte
	for _, v := range file.Vectors {
		if v.Name == "ok_small" {
			copy(key[:], v.Key)
			copy(digest[:], v.Digest)
		}
		if len(v.Stream) > 0 && len(v.Stream) < 2000 {
			f.Add([]byte(v.Stream))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		r, err := e2ee.NewAttachmentReader(bytes.NewReader(stream), key, digest)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			if e2ee.Code(err) == "error" {
				t.Fatalf("error without a reject code: %v", err)
			}
			return
		}
		if e2ee.AttachmentCiphertextSize(n) != int64(len(stream)) {
			t.Fatalf("accepted a %d-byte stream for %d plaintext bytes", len(stream), n)
		}
	})
}

func FuzzReplayState(f *testing.F) {
	var file vectors.ReplayFile
	loadJSON(f, "replay.json", &file)
	f.Add([]byte(file.FinalState))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := e2ee.NewReplayGuard(file.Capacity)
		if err := g.UnmarshalBinary(data); err != nil {
			return
		}
		state, err := g.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		again := e2ee.NewReplayGuard(file.Capacity)
		if err := again.UnmarshalBinary(state); err != nil {
			t.Fatalf("a marshalled state does not load: %v", err)
		}
		if state2, _ := again.MarshalBinary(); !bytes.Equal(state, state2) {
			t.Fatal("marshalling a loaded state is not stable")
		}
	})
}

func FuzzParseDeviceKeys(f *testing.F) {
	k := newDevice(f, "u-1", "d-1")
	b, _ := k.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := e2ee.ParseDeviceKeys(data)
		if err != nil {
			return
		}
		again, _ := k.MarshalBinary()
		if !bytes.Equal(again, data) {
			t.Fatal("accepted key file does not re-encode to its input")
		}
	})
}
