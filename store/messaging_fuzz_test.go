package store

import "testing"

// FuzzDecodeMessage feeds arbitrary bytes to the message record decoder,
// which reads the database file: a damaged file must give an error, never
// a panic, and whatever decodes must encode back to the same bytes.
func FuzzDecodeMessage(f *testing.F) {
	raw, err := encodeMessage(testMessage("c1", 1, t0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte{messageRecordVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := decodeMessage("c1", 1, raw)
		if err != nil {
			return
		}
		again, err := encodeMessage(m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if string(again) != string(raw) {
			t.Fatalf("round trip: got %x, want %x", again, raw)
		}
	})
}
