package messaging

import (
	"strings"
	"testing"
)

func FuzzParseContentRange(f *testing.F) {
	for _, seed := range []string{"bytes 0-1023/4096", "bytes 5-4/*", "bytes -1-3/9", "bytes 1-2", "", "bytes 9223372036854775807-0/1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		start, end, total, ok := parseContentRange(v)
		if !ok {
			return
		}
		if start < 0 || total < -1 {
			t.Fatalf("%q: got start %d end %d total %d, want start >= 0 and total >= -1", v, start, end, total)
		}
		if !strings.HasPrefix(v, "bytes ") {
			t.Fatalf("%q accepted without the bytes unit", v)
		}
	})
}

func FuzzParseConversationID(f *testing.F) {
	for _, seed := range []string{"consultation:abc", "care:p1", "care:", ":x", "other:x", "care:a/b", strings.Repeat("a", 70)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		conv, err := ParseConversationID(id)
		if err != nil {
			return
		}
		if conv.ID != id || len(id) > 64 || strings.ContainsAny(conv.Subject, "/:") {
			t.Fatalf("%q: got %+v", id, conv)
		}
		if res := conv.Resource(); (res.ConsultationID == "") == (res.PatientID == "") {
			t.Fatalf("%q: resource %+v names neither or both of consultation and patient", id, res)
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte{32})
	f.Add([]byte{0})
	f.Add([]byte{})
	f.Add(append([]byte{2, 1, 2}, make([]byte, 48)...))
	f.Fuzz(func(t *testing.T, raw []byte) {
		enc, ct, err := decodeEnvelope(raw)
		if err != nil {
			return
		}
		if 1+len(enc)+len(ct) != len(raw) {
			t.Fatalf("%x: got %d + %d bytes, want %d", raw, len(enc), len(ct), len(raw)-1)
		}
	})
}
