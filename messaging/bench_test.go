package messaging

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// The send benchmarks report acknowledged messages per second: each
// operation returns only after bbolt committed and fsynced the message.
// BenchmarkFsync measures the raw rate of write+fsync of a small file in
// the same kind of directory, the ceiling for one sender without
// batching. Results and the command are in docs/benchmarks.md.

// benchDelays are the values of Config.BatchDelay compared, up to bbolt's
// own default of 10ms.
var benchDelays = []time.Duration{0, 200 * time.Microsecond, time.Millisecond, 10 * time.Millisecond}

func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	record := []byte("a small record of about sixty-four bytes, like a bbolt meta page")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := f.WriteAt(record, int64(i%64)*int64(len(record))); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsyncs/s")
}

// BenchmarkSendHTTP posts pre-sealed messages through the whole HTTP
// handler over loopback, with the default BatchDelay: device check,
// policy, parsing, signature and batched commit. The HTTP clients run in
// the same process and share its two cores.
func BenchmarkSendHTTP(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			h, phone := benchFixture(b, DefaultBatchDelay)
			wires := sealMany(h, phone, b.N)
			runSenders(b, senders, func(i int) {
				if r := h.post(phone, consultConv, wires[i]); r.status != http.StatusCreated {
					b.Errorf("send: got status %d (%s), want 201", r.status, r.body)
				}
			})
		})
	}
}

// BenchmarkCommit measures the store part of a send alone: the batched
// transaction that checks the id and the devices and appends the message.
func BenchmarkCommit(b *testing.B) {
	for _, delay := range benchDelays {
		for _, senders := range []int{1, 64} {
			b.Run(fmt.Sprintf("delay=%s/senders=%d", delay, senders), func(b *testing.B) {
				h, phone := benchFixture(b, delay)
				wires := sealMany(h, phone, b.N)
				conv := ConsultationConversation(consultID)
				members := []string{patientID, clinicianID}
				runSenders(b, senders, func(i int) {
					m, err := e2ee.ParseSealed(wires[i])
					if err != nil {
						b.Fatal(err)
					}
					out, err := h.svc.commit(conv, m, wires[i], members)
					if err != nil || !out.stored {
						b.Errorf("commit: got %+v, %v, want stored", out, err)
					}
				})
			})
		}
	}
}

// benchFixture registers a patient phone, a patient laptop and a clinician
// desk in a fresh service.
func benchFixture(b *testing.B, delay time.Duration) (*harness, *testDevice) {
	h := newHarness(b, Config{BatchDelay: delay})
	phone := h.register(patientID, "phone")
	h.register(patientID, "laptop")
	h.register(clinicianID, "desk")
	return h, phone
}

// sealMany seals n messages from phone before the timer starts, so the
// benchmark measures the server, not the client's HPKE and signing.
func sealMany(h *harness, phone *testDevice, n int) [][]byte {
	recipients := h.recipients(patientID, clinicianID)
	out := make([][]byte, n)
	for i := range out {
		out[i] = h.seal(phone, consultConv, "benchmark message of an ordinary length", recipients).Marshal()
	}
	return out
}

// runSenders calls send(i) for i in [0, b.N) from the given number of
// goroutines and reports acknowledged messages per second.
func runSenders(b *testing.B, senders int, send func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				send(i)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
