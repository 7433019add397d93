package messaging

import (
	"errors"
	"testing"
	"time"

	"github.com/bedside-health/bedside/store"
)

func TestConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"too many envelopes", Config{MaxEnvelopes: 257}},
		{"too many devices", Config{MaxDevicesPerUser: 65}},
		{"message larger than the format allows", Config{MaxMessageBytes: 1 << 30}},
		{"quota below the attachment limit", Config{MaxAttachmentBytes: 10 << 20, AttachmentQuotaBytes: 1 << 20}},
		{"negative retention", Config{RetentionDays: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.cfg.withDefaults(); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("got %v, want ErrInvalidConfig", err)
			}
		})
	}
	cfg, err := Config{}.withDefaults()
	if err != nil || cfg.MaxMessageBytes != DefaultMaxMessageBytes || cfg.BatchDelay != DefaultBatchDelay {
		t.Errorf("defaults: got %+v, %v", cfg, err)
	}
}

func TestNewRequiresDeps(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, deps := range map[string]Deps{
		"no DB":        {DataDir: t.TempDir(), Directory: ClinicDirectory{}, Names: storeNames{}},
		"no data dir":  {DB: db, Directory: ClinicDirectory{}, Names: storeNames{}},
		"no directory": {DB: db, DataDir: t.TempDir(), Names: storeNames{}},
		"no names":     {DB: db, DataDir: t.TempDir(), Directory: ClinicDirectory{}},
	} {
		if _, err := New(Config{}, deps); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
}

// TestStartRunsSweep checks that the background job applies retention
// right after Start and stops on Close.
func TestStartRunsSweep(t *testing.T) {
	h := newHarness(t, Config{RetentionDays: 1, SweepInterval: time.Hour})
	phone := h.register(patientID, "phone")
	h.register(clinicianID, "desk")
	h.send(phone, consultConv, "expires tomorrow", patientID, clinicianID)
	h.clock.Advance(48 * time.Hour)

	if err := h.svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Start(t.Context()); err == nil {
		t.Error("second Start: got nil error, want one")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.fetch(phone, consultConv, 0, 10).Messages) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the expired message was not deleted within 10s of Start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}
