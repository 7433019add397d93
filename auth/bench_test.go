package auth

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// benchParallelism multiplies GOMAXPROCS to give the number of goroutines
// b.RunParallel starts, so more requests arrive than the hashing bound
// admits.
const benchParallelism = 8

// benchAccounts is the number of accounts BenchmarkLogin signs in to in
// turn.
const benchAccounts = 64

// heapPeak samples HeapInuse every 2 ms until stop is called and returns
// the maximum seen, in MiB.
func heapPeak() (stop func() float64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak.Load()) / (1 << 20)
	}
}

// cpuTime returns the user and system CPU time the process has used. It
// is less sensitive than wall time to other processes on a busy machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measurement starts the wall clock, the CPU clock and the heap sampler.
type measurement struct {
	start    time.Time
	cpu      time.Duration
	stopPeak func() float64
}

func startMeasurement(b *testing.B) measurement {
	return measurement{start: time.Now(), cpu: cpuTime(b), stopPeak: heapPeak()}
}

// report adds operations per second, CPU milliseconds per operation and
// the peak heap to the benchmark's output.
func (m measurement) report(b *testing.B) {
	elapsed := time.Since(m.start)
	cpu := cpuTime(b) - m.cpu
	b.ReportMetric(m.stopPeak(), "peak-heap-MiB")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkLogin signs in through the real HTTP handler with the default
// argon2id parameters from 8×GOMAXPROCS goroutines, under the default
// hashing bound (GOMAXPROCS) and under a bound of 2×GOMAXPROCS.
func BenchmarkLogin(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	b.Run("bound=2xprocs", func(b *testing.B) { benchLogin(b, 2*procs) })
	b.Run("bound=procs", func(b *testing.B) { benchLogin(b, procs) })
}

func benchLogin(b *testing.B, bound int) {
	dir := b.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	key, err := store.LoadOrCreateKey(filepath.Join(dir, store.KeyFileName))
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.AddressRate, cfg.AddressBurst = 1e6, 1e6
	cfg.MaxHashQueue = 1 << 10
	cfg.MaxConcurrentHashes = bound
	svc, err := New(cfg, Deps{DB: db, Sealer: store.NewSealer(key), Audit: audit.Discard{}})
	if err != nil {
		b.Fatal(err)
	}
	// One account per concurrent request: parallel attempts for a single
	// email address are throttled as a brute-force run.
	hash, err := svc.hasher.hash(context.Background(), patientPassword)
	if err != nil {
		b.Fatal(err)
	}
	var bodies [][]byte
	for i := range benchAccounts {
		email := fmt.Sprintf("bench%d@example.org", i)
		err := db.CreateAccount(&store.Account{
			ID: newID(), Email: email, DisplayName: "Bench", Role: string(policy.RolePatient),
			Status: string(StatusActive), PasswordHash: hash,
		})
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, []byte(`{"email":"`+email+`","password":"`+patientPassword+`"}`))
	}
	var next atomic.Int64
	rt := api.NewRouter(nil)
	svc.Register(rt)
	handler := svc.Middleware(rt)

	runtime.GC()
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	m := startMeasurement(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)%benchAccounts]
			req := httptest.NewRequest("POST", "/api/v1/auth/login", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("login: got %d %s, want 200", rec.Code, rec.Body.Bytes())
				return
			}
		}
	})
	b.StopTimer()
	m.report(b)
}

// BenchmarkArgon2idBaseline computes bare argon2id hashes with the same
// parameters, one goroutine per GOMAXPROCS: the cost floor of a sign-in.
func BenchmarkArgon2idBaseline(b *testing.B) {
	benchArgon2id(b, 1)
}

// BenchmarkArgon2idUnbounded runs bare hashes from as many goroutines as
// BenchmarkLogin, without a bound, to show the memory the bound saves.
func BenchmarkArgon2idUnbounded(b *testing.B) {
	benchArgon2id(b, benchParallelism)
}

func benchArgon2id(b *testing.B, parallelism int) {
	p := DefaultPasswordParams()
	salt := make([]byte, p.SaltLength)
	runtime.GC()
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	m := startMeasurement(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			argon2.IDKey([]byte(patientPassword), salt, p.Time, p.Memory, p.Threads, p.KeyLength)
		}
	})
	b.StopTimer()
	m.report(b)
}
