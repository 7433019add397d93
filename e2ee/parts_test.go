package e2ee_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"go.uber.org/goleak"

	"github.com/bedside-health/bedside/e2ee"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPaddedSizeBounds(t *testing.T) {
	for n := 0; n <= 70_000; n += 37 {
		p := e2ee.PaddedSize(n)
		if p <= n || p < e2ee.MinPaddedSize {
			t.Fatalf("PaddedSize(%d): got %d, want more than %d and at least %d", n, p, n, e2ee.MinPaddedSize)
		}
		if n >= e2ee.MinPaddedSize && float64(p) > 1.125*float64(n+1) {
			t.Fatalf("PaddedSize(%d): got %d, more than 12.5%% overhead", n, p)
		}
		if !e2ee.ValidPaddedSize(p) {
			t.Fatalf("PaddedSize(%d) = %d is not a valid padded size", n, p)
		}
	}
}

func TestAttachmentWritePatterns(t *testing.T) {
	key, err := e2ee.NewAttachmentKey(testRand("attachment"))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, e2ee.AttachmentChunkSize - 1, e2ee.AttachmentChunkSize,
		e2ee.AttachmentChunkSize + 1, 3*e2ee.AttachmentChunkSize + 17} {
		plain := bytes.Repeat([]byte{0xa5, 0x3c, 0x0f}, size/3+1)[:size]
		var whole bytes.Buffer
		n, digest, err := e2ee.EncryptAttachment(&whole, bytes.NewReader(plain), key)
		if err != nil || n != int64(size) {
			t.Fatalf("size %d: got %d bytes, %v", size, n, err)
		}
		for _, piece := range []int{1, 4095, e2ee.AttachmentChunkSize, e2ee.AttachmentChunkSize + 1} {
			if size > 200_000 && piece == 1 {
				continue
			}
			t.Run(fmt.Sprintf("size=%d/piece=%d", size, piece), func(t *testing.T) {
				var pieces bytes.Buffer
				w, err := e2ee.NewAttachmentWriter(&pieces, key)
				if err != nil {
					t.Fatal(err)
				}
				for off := 0; off < len(plain); off += piece {
					if _, err := w.Write(plain[off:min(off+piece, len(plain))]); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(pieces.Bytes(), whole.Bytes()) || w.Digest() != digest {
					t.Fatal("writing in pieces changed the stream")
				}
				var out bytes.Buffer
				got, err := e2ee.DecryptAttachment(&out, iotest.HalfReader(bytes.NewReader(whole.Bytes())), key, digest)
				if err != nil || got != int64(size) || !bytes.Equal(out.Bytes(), plain) {
					t.Fatalf("decrypt: got %d bytes, %v", got, err)
				}
			})
		}
	}
}

func TestAttachmentWriterLimits(t *testing.T) {
	key, _ := e2ee.NewAttachmentKey(nil)
	w, err := e2ee.NewAttachmentWriter(io.Discard, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after Close: got nil error")
	}
}

func TestReplayGuardEvictsOldest(t *testing.T) {
	g := e2ee.NewReplayGuard(2)
	at := func(b byte, ms int64) *e2ee.Header {
		return &e2ee.Header{MessageID: e2ee.MessageID{b}, Time: time.UnixMilli(ms)}
	}
	steps := []struct {
		h    *e2ee.Header
		want error
	}{
		{at(1, 100), nil},
		{at(2, 300), nil},
		{at(3, 200), nil}, // evicts id 1 (100): floor 100
		{at(1, 100), e2ee.ErrReplayTooOld},
		{at(3, 200), e2ee.ErrReplay},
		{at(4, 150), nil}, // evicts id 4 itself (150): floor 150
		{at(4, 150), e2ee.ErrReplayTooOld},
	}
	for i, s := range steps {
		if err := g.Accept(s.h); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Fatalf("step %d: got %v, want %v", i, err, s.want)
		}
	}
	if g.Len() != 2 {
		t.Fatalf("Len: got %d, want 2", g.Len())
	}
	state, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored := e2ee.NewReplayGuard(2)
	if err := restored.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if err := restored.Accept(at(3, 200)); !errors.Is(err, e2ee.ErrReplay) {
		t.Fatalf("restored guard: got %v, want ErrReplay", err)
	}
	if err := restored.Accept(at(9, 120)); !errors.Is(err, e2ee.ErrReplayTooOld) {
		t.Fatalf("restored floor: got %v, want ErrReplayTooOld", err)
	}
}

// TestReplayGuardConcurrent offers every id from several goroutines; exactly
// one Accept per id may succeed.
func TestReplayGuardConcurrent(t *testing.T) {
	g := e2ee.NewReplayGuard(10_000)
	const ids, workers = 500, 8
	var mu sync.Mutex
	accepted := map[e2ee.MessageID]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				h := &e2ee.Header{MessageID: e2ee.MessageID{byte(i), byte(i >> 8)}, Time: time.UnixMilli(int64(i + w))}
				if g.Accept(h) == nil {
					mu.Lock()
					accepted[h.MessageID]++
					mu.Unlock()
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("workers did not finish within 10 s")
	}
	if len(accepted) != ids {
		t.Fatalf("accepted ids: got %d, want %d", len(accepted), ids)
	}
	for id, n := range accepted {
		if n != 1 {
			t.Fatalf("id %s accepted %d times, want 1", id, n)
		}
	}
}

func TestSafetyNumberOrderIndependent(t *testing.T) {
	a, _ := e2ee.GenerateIdentity(testRand("a"))
	b, _ := e2ee.GenerateIdentity(testRand("b"))
	ab, err := e2ee.ComputeSafetyNumber("u-a", a.PublicKey(), "u-b", b.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	ba, err := e2ee.ComputeSafetyNumber("u-b", b.PublicKey(), "u-a", a.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if ab.String() != ba.String() {
		t.Fatalf("got %s and %s, want equal", ab, ba)
	}
	if len(ab.Digits) != 60 || len(ab.DigitGroups()) != 71 || len(ab.Words) != 8 {
		t.Fatalf("shape: got %d digits, %q, %d words", len(ab.Digits), ab.DigitGroups(), len(ab.Words))
	}
	other, _ := e2ee.ComputeSafetyNumber("u-a", a.PublicKey(), "u-b", ed25519.PublicKey(make([]byte, 32)))
	if other.Digits == ab.Digits {
		t.Fatal("another identity key gave the same digits")
	}
}

func TestWordListIsDistinct(t *testing.T) {
	words := e2ee.SafetyWordList()
	if len(words) != 256 {
		t.Fatalf("got %d words, want 256", len(words))
	}
	prefixes := map[string]string{}
	for _, w := range words {
		if len(w) < 3 || len(w) > 8 {
			t.Errorf("word %q: got %d letters, want 3 to 8", w, len(w))
		}
		if prev, ok := prefixes[w[:3]]; ok {
			t.Errorf("words %q and %q share the prefix %q", prev, w, w[:3])
		}
		prefixes[w[:3]] = w
	}
}
