package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

func TestPHCRoundTrip(t *testing.T) {
	h := newHasher(fastParams, 1, 0)
	encoded, err := h.hash(context.Background(), "a long passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("got %q, want the PHC prefix $argon2id$v=19$m=64,t=1,p=1$", encoded)
	}
	parsed, err := parsePHC(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.String() != encoded {
		t.Fatalf("got %q after a round trip, want %q", parsed.String(), encoded)
	}
	ok, stale, err := h.verify(context.Background(), "a long passphrase", encoded)
	if !ok || stale || err != nil {
		t.Fatalf("verify right password: got ok %v stale %v err %v, want true false nil", ok, stale, err)
	}
	ok, _, _ = h.verify(context.Background(), "a long passphrasE", encoded)
	if ok {
		t.Fatal("verify wrong password: got true, want false")
	}
}

// TestArgon2idKnownHash checks the hasher against a hash computed by the
// reference implementation's command-line tool (Debian package argon2,
// version 0~20171227): echo -n password | argon2 somesalt -id -t 2 -m 16
// -p 4 -l 32 -e.
func TestArgon2idKnownHash(t *testing.T) {
	const ref = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"
	h := newHasher(PasswordParams{Memory: 65536, Time: 2, Threads: 4, SaltLength: 8, KeyLength: 32}, 1, 0)
	ok, stale, err := h.verify(context.Background(), "password", ref)
	if err != nil || !ok || stale {
		t.Fatalf("got ok %v stale %v err %v, want the reference hash to verify", ok, stale, err)
	}
}

func TestParsePHCRejects(t *testing.T) {
	valid := "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzYWx0$" + strings.Repeat("A", 43)
	if _, err := parsePHC(valid); err != nil {
		t.Fatalf("valid hash rejected: %v", err)
	}
	tests := map[string]string{
		"empty":          "",
		"argon2i":        strings.Replace(valid, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(valid, "v=19", "v=16", 1),
		"missing part":   "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ",
		"memory too big": strings.Replace(valid, "m=64", "m=4294967295", 1),
		"zero time":      strings.Replace(valid, "t=1", "t=0", 1),
		"zero threads":   strings.Replace(valid, "p=1", "p=0", 1),
		"leading zero":   strings.Replace(valid, "m=64", "m=064", 1),
		"swapped params": strings.Replace(valid, "m=64,t=1", "t=1,m=64", 1),
		"short salt":     "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + strings.Repeat("A", 43),
		"bad base64":     strings.Replace(valid, "c29tZXNhbHRzYWx0", "c29t!XNhbHRzYWx0", 1),
		"padded base64":  strings.Replace(valid, "c29tZXNhbHRzYWx0", "c29tZXNhbHRzYWx0==", 1),
		"too long":       valid + strings.Repeat("A", maxPHCLength),
		"threads > 255":  strings.Replace(valid, "p=1", "p=256", 1),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := parsePHC(in); err == nil {
				t.Fatalf("parsePHC(%q) succeeded, want an error", in)
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzYWx0$" + strings.Repeat("A", 43))
	f.Add("$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			return
		}
		if err := h.params.validate(); err != nil {
			t.Fatalf("parsePHC accepted out-of-range parameters: %v", err)
		}
		again, err := parsePHC(h.String())
		if err != nil || again.String() != h.String() {
			t.Fatalf("re-encoding %q: got %q, %v", s, again.String(), err)
		}
	})
}

func TestRehashOnLoginWhenParametersChange(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.user("pat@example.org", policy.RolePatient, patientPassword)
	stronger := fastParams
	stronger.Time = 2
	e.svc.hasher = newHasher(stronger, 2, 4)
	e.login("pat@example.org", patientPassword)
	got := mustStored(t, e, acct.ID).PasswordHash
	if !strings.Contains(got, "m=64,t=2,p=1") {
		t.Fatalf("got hash %q after sign-in, want it rehashed with t=2", got[:30])
	}
	e.login("pat@example.org", patientPassword)
}

func TestHasherBound(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h := newHasher(fastParams, 1, 1)
	release, err := h.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// One request may wait; it gives up with its context.
	waitCtx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		_, err := h.acquire(waitCtx)
		waited <- err
	}()
	deadline := time.After(5 * time.Second)
	for h.waiting.Load() != 1 {
		select {
		case <-deadline:
			t.Fatal("waiting request never queued")
		case <-time.After(time.Millisecond):
		}
	}
	// The queue is full: the next request fails at once.
	if _, err := h.acquire(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("got %v with a full queue, want ErrBusy", err)
	}
	if err := <-waited; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting request: got %v, want context.DeadlineExceeded", err)
	}
	release()
	release2, err := h.acquire(context.Background())
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	release2()
}

func TestConfigValidateNamesField(t *testing.T) {
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"SessionIdle", func(c *Config) { c.SessionIdle = 0 }},
		{"SessionMax", func(c *Config) { c.SessionMax = time.Minute }},
		{"LockoutAfter", func(c *Config) { c.LockoutAfter = c.BackoffAfter }},
		{"MaxConcurrentHashes", func(c *Config) { c.MaxConcurrentHashes = 0 }},
		{"InvitationTTL", func(c *Config) { c.InvitationTTL = time.Second }},
		{"Password", func(c *Config) { c.Password.Memory = 1 << 30 }},
		{"Issuer", func(c *Config) { c.Issuer = "" }},
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig is invalid: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("got %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestNewRequiresDeps(t *testing.T) {
	if _, err := New(testConfig(), Deps{}); err == nil || !strings.Contains(err.Error(), "Deps.DB") {
		t.Fatalf("got %v, want an error naming Deps.DB", err)
	}
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := New(testConfig(), Deps{DB: db}); err == nil || !strings.Contains(err.Error(), "Deps.Sealer") {
		t.Fatalf("got %v, want an error naming Deps.Sealer", err)
	}
}

func TestHashUsesNFKC(t *testing.T) {
	h := newHasher(fastParams, 1, 0)
	ctx := context.Background()
	// "é" precomposed (U+00E9) and decomposed (e + U+0301), and the
	// full-width digits of a phone keyboard against ASCII digits.
	tests := []struct{ typed, later string }{
		{"caf\u00e9 au lait tous les matins", "cafe\u0301 au lait tous les matins"},
		{"passphrase \uff11\uff12\uff13 long enough", "passphrase 123 long enough"},
	}
	for _, tt := range tests {
		encoded, err := h.hash(ctx, tt.typed)
		if err != nil {
			t.Fatal(err)
		}
		ok, _, err := h.verify(ctx, tt.later, encoded)
		if err != nil || !ok {
			t.Errorf("verify %q against the hash of %q: got %v, %v; want true", tt.later, tt.typed, ok, err)
		}
	}
}
