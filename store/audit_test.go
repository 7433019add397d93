package store

import (
	"errors"
	"testing"
	"time"
)

func openAuditTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAppendAuditRequiresNextSequence(t *testing.T) {
	db := openAuditTestDB(t)
	if err := db.AppendAudit([]AuditEntry{{Seq: 1, Value: []byte("a")}, {Seq: 2, Value: []byte("b")}}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		seqs []uint64
	}{
		{"gap", []uint64{4}},
		{"repeat", []uint64{2}},
		{"not consecutive", []uint64{3, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var batch []AuditEntry
			for _, s := range tc.seqs {
				batch = append(batch, AuditEntry{Seq: s, Value: []byte("x")})
			}
			if err := db.AppendAudit(batch, nil); !errors.Is(err, ErrAuditSequence) {
				t.Errorf("got %v, want ErrAuditSequence", err)
			}
		})
	}
	last, err := db.LastAudit()
	if err != nil || last.Seq != 2 || string(last.Value) != "b" {
		t.Errorf("got last %+v, %v; want record 2 unchanged by the rejected batches", last, err)
	}
}

func TestAppendAuditWritesCheckpointInSameTransaction(t *testing.T) {
	db := openAuditTestDB(t)
	if _, err := db.LastAuditCheckpoint(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty log: got %v, want ErrNotFound", err)
	}
	// A rejected batch must not leave its checkpoint behind.
	if err := db.AppendAudit([]AuditEntry{{Seq: 7}}, &AuditEntry{Seq: 7, Value: []byte("cp")}); err == nil {
		t.Fatal("got nil, want ErrAuditSequence")
	}
	if _, err := db.LastAuditCheckpoint(); !errors.Is(err, ErrNotFound) {
		t.Errorf("after a rejected batch: got %v, want ErrNotFound", err)
	}
	if err := db.AppendAudit([]AuditEntry{{Seq: 1, Value: []byte("a")}}, &AuditEntry{Seq: 1, Value: []byte("cp")}); err != nil {
		t.Fatal(err)
	}
	cp, err := db.LastAuditCheckpoint()
	if err != nil || cp.Seq != 1 || string(cp.Value) != "cp" {
		t.Errorf("got %+v, %v; want checkpoint 1", cp, err)
	}
}

func TestScanAuditAfter(t *testing.T) {
	db := openAuditTestDB(t)
	var batch []AuditEntry
	for s := uint64(1); s <= 5; s++ {
		batch = append(batch, AuditEntry{Seq: s, Value: []byte{byte(s)}})
	}
	if err := db.AppendAudit(batch, nil); err != nil {
		t.Fatal(err)
	}
	var got []byte
	err := db.ScanAudit(2, func(e RawAuditEntry) error {
		got = append(got, e.Value[0])
		if len(got) == 2 {
			return ErrStopScan
		}
		return nil
	})
	if err != nil || string(got) != "\x03\x04" {
		t.Errorf("got %v, %v; want records 3 and 4", got, err)
	}
}

func TestAlertsListAckAndWebhookQueue(t *testing.T) {
	db := openAuditTestDB(t)
	t0 := time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)
	alerts := []*Alert{
		{Type: "a", Severity: "warning", Time: t0},
		{Type: "b", Severity: "critical", Time: t0.Add(time.Second)},
		{Type: "c", Severity: "info", Time: t0.Add(2 * time.Second)},
	}
	if err := db.InsertAlerts(alerts, true); err != nil {
		t.Fatal(err)
	}
	if alerts[0].ID != 1 || alerts[2].ID != 3 {
		t.Fatalf("got ids %d..%d, want 1..3", alerts[0].ID, alerts[2].ID)
	}

	a, changed, err := db.AckAlert(2, "u-admin", t0.Add(time.Minute))
	if err != nil || !changed || a.AckedBy != "u-admin" {
		t.Fatalf("ack: got %+v, %v, %v", a, changed, err)
	}
	if _, changed, _ := db.AckAlert(2, "u-other", t0.Add(time.Hour)); changed {
		t.Error("second ack changed the alert, want the first kept")
	}
	if _, _, err := db.AckAlert(9, "u-admin", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("ack of unknown id: got %v, want ErrNotFound", err)
	}

	// The nested webhook bucket sorts after the alert keys and must be
	// skipped by listing.
	list, err := db.ListAlerts(AlertQuery{})
	if err != nil || len(list) != 3 || list[0].ID != 3 {
		t.Fatalf("list: got %d alerts starting at %v, %v; want 3 starting at 3", len(list), list, err)
	}
	open, _ := db.ListAlerts(AlertQuery{Unacknowledged: true})
	if len(open) != 2 || open[0].ID != 3 || open[1].ID != 1 {
		t.Errorf("unacknowledged: got %+v, want 3 and 1", open)
	}
	page, _ := db.ListAlerts(AlertQuery{Before: 3, Limit: 1})
	if len(page) != 1 || page[0].ID != 2 {
		t.Errorf("before 3: got %+v, want alert 2", page)
	}
	page, _ = db.ListAlerts(AlertQuery{Before: 100})
	if len(page) != 3 {
		t.Errorf("before 100: got %d alerts, want 3", len(page))
	}

	pending, err := db.PendingWebhookAlerts(10)
	if err != nil || len(pending) != 3 || pending[0].ID != 1 {
		t.Fatalf("pending: got %+v, %v; want 1, 2, 3", pending, err)
	}
	if err := db.MarkAlertDelivered(1, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	pending, _ = db.PendingWebhookAlerts(10)
	if len(pending) != 2 || pending[0].ID != 2 {
		t.Errorf("after delivery: got %+v, want 2 and 3", pending)
	}
	if a, _ := db.Alert(1); !a.Delivered || a.DeliveredAt.IsZero() {
		t.Errorf("got %+v, want alert 1 marked delivered", a)
	}
}
