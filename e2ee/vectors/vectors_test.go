package vectors

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedVectorsMatchGenerator regenerates every file and compares it
// with testdata/e2ee. Message vectors may differ only inside their
// hpke_ranges, where crypto/hpke's random ephemeral keys land; everything
// else must be byte-identical. Run go run ./cmd/e2ee-vectors after a
// deliberate format change.
func TestCommittedVectorsMatchGenerator(t *testing.T) {
	fresh, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Files {
		t.Run(name, func(t *testing.T) {
			committed, err := os.ReadFile(filepath.Join("..", "..", "testdata", "e2ee", name))
			if err != nil {
				t.Fatal(err)
			}
			want := fresh[name]
			if name == "mutations.json" {
				want = mutationsOfCommitted(t)
			}
			if name != "messages.json" {
				if !bytes.Equal(committed, want) {
					t.Fatalf("%s differs from a fresh generation: run go run ./cmd/e2ee-vectors", name)
				}
				return
			}
			compareMessages(t, committed, fresh[name])
		})
	}
}

// mutationsOfCommitted derives mutations.json from the committed
// messages.json, because the outcome of an edit near the HPKE output
// depends on the random bytes there.
func mutationsOfCommitted(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "e2ee", "messages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var messages MessagesFile
	if err := json.Unmarshal(raw, &messages); err != nil {
		t.Fatal(err)
	}
	b, err := GenerateMutations(messages)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compareMessages(t *testing.T, committed, fresh []byte) {
	var a, b MessagesFile
	if err := json.Unmarshal(committed, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fresh, &b); err != nil {
		t.Fatal(err)
	}
	if len(a.Vectors) != len(b.Vectors) {
		t.Fatalf("got %d committed vectors, want %d", len(a.Vectors), len(b.Vectors))
	}
	for i := range a.Vectors {
		va, vb := a.Vectors[i], b.Vectors[i]
		masked := func(v MessageVector) []byte {
			out := bytes.Clone(v.Sealed)
			for _, r := range v.HPKERanges {
				clear(out[r[0]:r[1]])
			}
			return out
		}
		if !bytes.Equal(masked(va), masked(vb)) {
			t.Errorf("vector %s: sealed bytes differ outside the HPKE ranges", va.Name)
		}
		va.Sealed, vb.Sealed = nil, nil
		ja, _ := json.Marshal(va)
		jb, _ := json.Marshal(vb)
		if !bytes.Equal(ja, jb) {
			t.Errorf("vector %s: fields differ:\n%s\n%s", va.Name, ja, jb)
		}
	}
	ja, _ := json.Marshal(a.Devices)
	jb, _ := json.Marshal(b.Devices)
	if !bytes.Equal(ja, jb) {
		t.Error("device keys differ")
	}
}
