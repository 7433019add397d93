package store

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func testMessage(conv string, id byte, at time.Time) *Message {
	return &Message{
		ConversationID: conv,
		ID:             [16]byte{id},
		SenderUserID:   "alice",
		SenderDeviceID: "phone",
		ReceivedAt:     at,
		Digest:         [32]byte{id, 1},
		Header:         []byte("header"),
		Commitment:     bytes.Repeat([]byte{id}, 32),
		Ciphertext:     bytes.Repeat([]byte{0xc0, id}, 200),
		Signature:      bytes.Repeat([]byte{0x5}, 64),
		Recipients:     []Recipient{{"alice", "laptop"}, {"bob", "phone"}},
	}
}

func testEnvelopes(id byte) []Envelope {
	return []Envelope{
		{UserID: "alice", DeviceID: "laptop", Sealed: []byte{id, 'a'}},
		{UserID: "bob", DeviceID: "phone", Sealed: []byte{id, 'b'}},
	}
}

func appendMessage(t *testing.T, db *DB, m *Message, envs []Envelope) {
	t.Helper()
	err := db.Bolt().Update(func(tx *bolt.Tx) error { return AppendMessageTx(tx, m, envs) })
	if err != nil {
		t.Fatalf("AppendMessageTx: %v", err)
	}
}

func TestMessageRecordRoundTrip(t *testing.T) {
	m := testMessage("c1", 7, t0)
	m.Seq = 3
	raw, err := encodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMessage("c1", 3, raw)
	if err != nil {
		t.Fatalf("decodeMessage: %v", err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: got %+v, want %+v", got, m)
	}
	for n := 0; n < len(raw); n++ {
		if _, err := decodeMessage("c1", 3, raw[:n]); !errors.Is(err, errMessageRecord) {
			t.Fatalf("record truncated to %d bytes: got %v, want errMessageRecord", n, err)
		}
	}
	if _, err := decodeMessage("c1", 3, append(raw, 0)); !errors.Is(err, errMessageRecord) {
		t.Fatalf("record with a trailing byte: got %v, want errMessageRecord", err)
	}
}

func TestAppendMessageAssignsSeq(t *testing.T) {
	db, _ := openTemp(t)
	for i := byte(1); i <= 3; i++ {
		m := testMessage("c1", i, t0)
		appendMessage(t, db, m, testEnvelopes(i))
		if m.Seq != uint64(i) {
			t.Fatalf("message %d: got seq %d, want %d", i, m.Seq, i)
		}
	}
	err := db.Bolt().Update(func(tx *bolt.Tx) error {
		return AppendMessageTx(tx, testMessage("c1", 2, t0), nil)
	})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("append of a stored id: got %v, want ErrExists", err)
	}
	c, err := db.Conversation("c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.LastSeq != 3 {
		t.Errorf("last seq: got %d, want 3", c.LastSeq)
	}
	err = db.Bolt().View(func(tx *bolt.Tx) error {
		m, err := MessageByIDTx(tx, "c1", [16]byte{2})
		if err != nil {
			return err
		}
		if m.Seq != 2 {
			t.Errorf("message by id: got seq %d, want 2", m.Seq)
		}
		if _, err := MessageByIDTx(tx, "c1", [16]byte{9}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: got %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMessagesForDevice(t *testing.T) {
	db, _ := openTemp(t)
	// Message 2 has no envelope for bob/phone; message 3 was sent by him.
	appendMessage(t, db, testMessage("c1", 1, t0), testEnvelopes(1))
	appendMessage(t, db, testMessage("c1", 2, t0), testEnvelopes(2)[:1])
	own := testMessage("c1", 3, t0)
	own.SenderUserID, own.SenderDeviceID = "bob", "phone"
	appendMessage(t, db, own, testEnvelopes(3)[:1])
	appendMessage(t, db, testMessage("c1", 4, t0), testEnvelopes(4))

	tests := []struct {
		name     string
		q        DeviceQuery
		wantSeqs []uint64
		wantNext uint64
		wantMore bool
	}{
		{"all", DeviceQuery{Limit: 10}, []uint64{1, 3, 4}, 4, false},
		{"after cursor", DeviceQuery{After: 1, Limit: 10}, []uint64{3, 4}, 4, false},
		{"limit", DeviceQuery{Limit: 1}, []uint64{1}, 1, true},
		{"scan bound", DeviceQuery{After: 1, Limit: 5, MaxScan: 1}, nil, 2, true},
		{"byte bound", DeviceQuery{Limit: 10, MaxBytes: 1}, []uint64{1}, 1, true},
		{"past the end", DeviceQuery{After: 4, Limit: 10}, nil, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.ConversationID, q.UserID, q.DeviceID = "c1", "bob", "phone"
			if q.MaxBytes == 0 {
				q.MaxBytes = 1 << 20
			}
			page, err := db.MessagesForDevice(q)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, m := range page.Messages {
				seqs = append(seqs, m.Message.Seq)
				want := []Envelope{{UserID: "bob", DeviceID: "phone", Sealed: []byte{m.Message.ID[0], 'b'}}}
				if m.Message.SenderUserID == "bob" {
					// The sender gets every envelope it sealed.
					want = testEnvelopes(m.Message.ID[0])[:1]
				}
				if !reflect.DeepEqual(m.Envelopes, want) {
					t.Errorf("message %d: got envelopes %+v, want %+v", m.Message.Seq, m.Envelopes, want)
				}
			}
			if !reflect.DeepEqual(seqs, tt.wantSeqs) {
				t.Errorf("seqs: got %v, want %v", seqs, tt.wantSeqs)
			}
			if page.Next != tt.wantNext || page.More != tt.wantMore {
				t.Errorf("cursor: got next %d more %v, want %d %v", page.Next, page.More, tt.wantNext, tt.wantMore)
			}
		})
	}
}

func TestMarkersAreMonotonic(t *testing.T) {
	db, _ := openTemp(t)
	for i := byte(1); i <= 5; i++ {
		appendMessage(t, db, testMessage("c1", i, t0), nil)
	}
	steps := []struct {
		seq, want uint64
	}{{3, 3}, {2, 3}, {5, 5}}
	for _, s := range steps {
		got, err := db.MarkRead("c1", "bob", s.seq)
		if err != nil || got != s.want {
			t.Errorf("MarkRead(%d): got %d, %v, want %d", s.seq, got, err, s.want)
		}
		got, err = db.MarkDelivered("c1", "bob", "phone", s.seq)
		if err != nil || got != s.want {
			t.Errorf("MarkDelivered(%d): got %d, %v, want %d", s.seq, got, err, s.want)
		}
	}
	if _, err := db.MarkRead("c1", "bob", 6); !errors.Is(err, ErrSeqBeyondEnd) {
		t.Errorf("MarkRead past the end: got %v, want ErrSeqBeyondEnd", err)
	}
	if _, err := db.MarkRead("nowhere", "bob", 1); !errors.Is(err, ErrSeqBeyondEnd) {
		t.Errorf("MarkRead in an empty conversation: got %v, want ErrSeqBeyondEnd", err)
	}
	m, err := db.ConversationMarkers("c1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Read["bob"] != 5 || m.Delivered[Recipient{"bob", "phone"}] != 5 {
		t.Errorf("markers: got %+v, want bob at 5", m)
	}
}

func TestDeleteMessagesBefore(t *testing.T) {
	db, _ := openTemp(t)
	for i := byte(1); i <= 5; i++ {
		appendMessage(t, db, testMessage("c1", i, t0.Add(time.Duration(i)*time.Hour)), testEnvelopes(i))
		appendMessage(t, db, testMessage("c2", i, t0.Add(time.Duration(i)*time.Hour)), testEnvelopes(i))
	}
	// Messages at 1h and 2h in both conversations go, in batches of 3.
	n, err := db.DeleteMessagesBefore(t0.Add(150*time.Minute), 3)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("deleted: got %d, want 4", n)
	}
	for _, conv := range []string{"c1", "c2"} {
		page, err := db.MessagesForDevice(DeviceQuery{ConversationID: conv, UserID: "bob", DeviceID: "phone",
			Limit: 10, MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Messages) != 3 || page.Messages[0].Message.Seq != 3 {
			t.Errorf("%s after retention: got %d messages, want seq 3 to 5", conv, len(page.Messages))
		}
	}
	err = db.Bolt().View(func(tx *bolt.Tx) error {
		conv := tx.Bucket(BucketMessages).Bucket([]byte("c1"))
		if got := conv.Bucket(bucketEnvelopes).Stats().KeyN; got != 6 {
			t.Errorf("envelopes left: got %d, want 6", got)
		}
		if got := conv.Bucket(bucketMessageIDs).Stats().KeyN; got != 3 {
			t.Errorf("id index entries left: got %d, want 3", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeleteConversationKeepsSeq(t *testing.T) {
	db, _ := openTemp(t)
	for i := byte(1); i <= 3; i++ {
		appendMessage(t, db, testMessage("c1", i, t0), testEnvelopes(i))
	}
	if _, err := db.MarkRead("c1", "bob", 2); err != nil {
		t.Fatal(err)
	}
	n, err := db.DeleteConversationMessages("c1", "admin1", t0)
	if err != nil || n != 3 {
		t.Fatalf("DeleteConversationMessages: got %d, %v, want 3", n, err)
	}
	m, _ := db.ConversationMarkers("c1")
	if len(m.Read) != 0 {
		t.Errorf("read markers after delete: got %v, want none", m.Read)
	}
	next := testMessage("c1", 1, t0) // the id is free again
	appendMessage(t, db, next, nil)
	if next.Seq != 4 {
		t.Errorf("seq after delete: got %d, want 4", next.Seq)
	}
	c, _ := db.Conversation("c1")
	if c.DeletedBy != "admin1" {
		t.Errorf("deleted by: got %q, want admin1", c.DeletedBy)
	}
	if n, err := db.DeleteConversationMessages("never", "admin1", t0); n != 0 || err != nil {
		t.Errorf("delete of an empty conversation: got %d, %v, want 0, nil", n, err)
	}
}

func TestAttachmentQuotaAndProgress(t *testing.T) {
	db, _ := openTemp(t)
	mk := func(id string, size int64, at time.Time) *Attachment {
		return &Attachment{ID: id, ConversationID: "c1", OwnerID: "alice", Size: size, CreatedAt: at}
	}
	if err := db.CreateAttachment(mk("a1", 600, t0), 1000); err != nil {
		t.Fatal(err)
	}
	err := db.CreateAttachment(mk("a2", 500, t0), 1000)
	var qe *QuotaError
	if !errors.As(err, &qe) || !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("over quota: got %v, want a QuotaError", err)
	}
	if qe.Used != 600 || qe.Quota != 1000 || qe.Requested != 500 {
		t.Errorf("quota error: got %+v, want used 600 quota 1000 requested 500", qe)
	}
	if err := db.CreateAttachment(mk("a1", 1, t0), 1000); !errors.Is(err, ErrExists) {
		t.Errorf("taken id: got %v, want ErrExists", err)
	}

	steps := []struct {
		from, to int64
		ok       bool
	}{{0, 100, true}, {0, 200, false}, {100, 99, false}, {100, 601, false}, {100, 600, true}}
	for _, s := range steps {
		_, err := db.SetAttachmentReceived("a1", s.from, s.to)
		if (err == nil) != s.ok {
			t.Errorf("progress %d to %d: got %v, want ok %v", s.from, s.to, err, s.ok)
		}
	}
	a, err := db.CompleteAttachment("a1", t0)
	if err != nil || !a.Complete() {
		t.Fatalf("complete: got %+v, %v", a, err)
	}
	if _, err := db.SetAttachmentReceived("a1", 600, 600); !errors.Is(err, ErrUploadState) {
		t.Errorf("progress after completion: got %v, want ErrUploadState", err)
	}

	if err := db.CreateAttachment(mk("a3", 10, t0.Add(time.Hour)), 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompleteAttachment("a3", t0); !errors.Is(err, ErrUploadState) {
		t.Errorf("complete with bytes missing: got %v, want ErrUploadState", err)
	}
	old, err := db.AttachmentsCreatedBefore(t0.Add(time.Minute), false, 10)
	if err != nil || len(old) != 1 || old[0].ID != "a1" {
		t.Errorf("created before: got %v, %v, want a1", old, err)
	}
	unfinished, err := db.AttachmentsCreatedBefore(t0.Add(2*time.Hour), true, 10)
	if err != nil || len(unfinished) != 1 || unfinished[0].ID != "a3" {
		t.Errorf("unfinished created before: got %v, %v, want a3", unfinished, err)
	}
	conv, _ := db.ConversationAttachments("c1")
	if len(conv) != 2 {
		t.Errorf("conversation attachments: got %d, want 2", len(conv))
	}
	if _, err := db.DeleteAttachment("a1"); err != nil {
		t.Fatal(err)
	}
	if used, _ := db.AttachmentUsage("alice"); used != 10 {
		t.Errorf("usage after delete: got %d, want 10", used)
	}
	if _, err := db.Attachment("a1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted attachment: got %v, want ErrNotFound", err)
	}
}

func TestDevicesAndList(t *testing.T) {
	db, _ := openTemp(t)
	err := db.Bolt().Update(func(tx *bolt.Tx) error {
		for i, id := range []string{"b", "a", "c"} {
			d := &Device{UserID: "u1", DeviceID: id, CreatedAt: t0}
			if i == 2 {
				d.RevokedAt = t0
			}
			if err := PutDeviceTx(tx, d); err != nil {
				return err
			}
		}
		// A device of user "u10" must not show up under "u1".
		if err := PutDeviceTx(tx, &Device{UserID: "u10", DeviceID: "x"}); err != nil {
			return err
		}
		return PutDeviceListTx(tx, &DeviceList{UserID: "u1", Version: 2, List: []byte("list")})
	})
	if err != nil {
		t.Fatal(err)
	}
	devs, list, err := db.UserDevices("u1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range devs {
		ids = append(ids, d.DeviceID)
	}
	if fmt.Sprint(ids) != "[a b]" {
		t.Errorf("current devices: got %v, want [a b]", ids)
	}
	if list == nil || list.Version != 2 {
		t.Errorf("device list: got %+v, want version 2", list)
	}
	if d, err := db.Device("u1", "c"); err != nil || !d.Revoked() {
		t.Errorf("revoked device: got %+v, %v", d, err)
	}
	if _, list, _ := db.UserDevices("nobody"); list != nil {
		t.Errorf("list of a user without devices: got %+v, want nil", list)
	}
}
