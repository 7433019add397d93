package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketWebhookPending is nested in BucketAlerts: the ids of alerts that
// still have to reach the configured webhook, so that delivery survives a
// restart and never scans the whole alert history.
var bucketWebhookPending = []byte("webhook_pending")

// Alert is a stored security alert. Package audit raises alerts and defines
// the meaning of Type and Severity.
type Alert struct {
	ID       uint64            `json:"id"`
	Type     string            `json:"type"`
	Severity string            `json:"severity"`
	Time     time.Time         `json:"time"`
	Subject  string            `json:"subject,omitempty"`
	Target   string            `json:"target,omitempty"`
	Address  string            `json:"address,omitempty"`
	EventSeq uint64            `json:"event_seq,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`

	AckedBy string    `json:"acked_by,omitempty"`
	AckedAt time.Time `json:"acked_at,omitzero"`

	// Delivered is true once the webhook receiver accepted the alert.
	Delivered   bool      `json:"delivered,omitempty"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// AlertQuery selects alerts for ListAlerts. The zero value lists the newest
// alerts, acknowledged or not, up to DefaultAlertLimit.
type AlertQuery struct {
	// Unacknowledged keeps only alerts without an acknowledgement.
	Unacknowledged bool
	// Before, when not zero, keeps only alerts with a smaller id, for
	// paging backwards.
	Before uint64
	// Limit caps the result; zero means DefaultAlertLimit.
	Limit int
}

// DefaultAlertLimit is the page size of ListAlerts when AlertQuery.Limit is
// zero.
const DefaultAlertLimit = 100

// InsertAlerts stores alerts in one transaction and sets their ID fields
// from the bucket's sequence, so ids grow with time. When pending is true
// the alerts are queued for webhook delivery too.
func (db *DB) InsertAlerts(alerts []*Alert, pending bool) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := alertsBucket(tx)
		if err != nil {
			return err
		}
		var queue *bolt.Bucket
		if pending {
			if queue, err = b.CreateBucketIfNotExists(bucketWebhookPending); err != nil {
				return err
			}
		}
		for _, a := range alerts {
			id, err := b.NextSequence()
			if err != nil {
				return err
			}
			a.ID = id
			if err := putAlert(b, a); err != nil {
				return err
			}
			if queue != nil {
				if err := queue.Put(AuditKey(id), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert alerts: %w", err)
	}
	return nil
}

// Alert returns the alert with the given id, or ErrNotFound.
func (db *DB) Alert(id uint64) (Alert, error) {
	var a Alert
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := alertsBucket(tx)
		if err != nil {
			return err
		}
		a, err = getAlert(b, id)
		return err
	})
	if err != nil {
		return Alert{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	return a, nil
}

// ListAlerts returns alerts newest first, as selected by q.
func (db *DB) ListAlerts(q AlertQuery) ([]Alert, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultAlertLimit
	}
	var out []Alert
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := alertsBucket(tx)
		if err != nil {
			return err
		}
		c := b.Cursor()
		k, v := c.Last()
		if q.Before > 0 {
			if sk, _ := c.Seek(AuditKey(q.Before)); sk == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(out) < q.Limit; k, v = c.Prev() {
			if v == nil || len(k) != 8 { // a nested bucket
				continue
			}
			var a Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode alert %x: %w", k, err)
			}
			if q.Unacknowledged && !a.AckedAt.IsZero() {
				continue
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// AckAlert records that account by acknowledged alert id at time at. It
// returns the stored alert and whether this call changed it: acknowledging
// an acknowledged alert keeps the first acknowledgement. An unknown id
// fails with ErrNotFound.
func (db *DB) AckAlert(id uint64, by string, at time.Time) (Alert, bool, error) {
	var a Alert
	var changed bool
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := alertsBucket(tx)
		if err != nil {
			return err
		}
		if a, err = getAlert(b, id); err != nil {
			return err
		}
		if !a.AckedAt.IsZero() {
			return nil
		}
		a.AckedBy, a.AckedAt, changed = by, at.UTC(), true
		return putAlert(b, &a)
	})
	if err != nil {
		return Alert{}, false, fmt.Errorf("acknowledge alert %d: %w", id, err)
	}
	return a, changed, nil
}

// PendingWebhookAlerts returns up to limit alerts still queued for webhook
// delivery, oldest first.
func (db *DB) PendingWebhookAlerts(limit int) ([]Alert, error) {
	var out []Alert
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := alertsBucket(tx)
		if err != nil {
			return err
		}
		queue := b.Bucket(bucketWebhookPending)
		if queue == nil {
			return nil
		}
		c := queue.Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) != 8 {
				continue
			}
			a, err := getAlert(b, binary.BigEndian.Uint64(k))
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pending webhook alerts: %w", err)
	}
	return out, nil
}

// MarkAlertDelivered removes alert id from the webhook queue and records
// the delivery time.
func (db *DB) MarkAlertDelivered(id uint64, at time.Time) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := alertsBucket(tx)
		if err != nil {
			return err
		}
		a, err := getAlert(b, id)
		if err != nil {
			return err
		}
		a.Delivered, a.DeliveredAt = true, at.UTC()
		if err := putAlert(b, &a); err != nil {
			return err
		}
		if queue := b.Bucket(bucketWebhookPending); queue != nil {
			return queue.Delete(AuditKey(id))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark alert %d delivered: %w", id, err)
	}
	return nil
}

func alertsBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	b := tx.Bucket(BucketAlerts)
	if b == nil {
		return nil, errMissingBucket(BucketAlerts)
	}
	return b, nil
}

func getAlert(b *bolt.Bucket, id uint64) (Alert, error) {
	v := b.Get(AuditKey(id))
	if v == nil {
		return Alert{}, ErrNotFound
	}
	var a Alert
	if err := json.Unmarshal(v, &a); err != nil {
		return Alert{}, fmt.Errorf("decode alert %d: %w", id, err)
	}
	return a, nil
}

func putAlert(b *bolt.Bucket, a *Alert) error {
	v, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert %d: %w", a.ID, err)
	}
	return b.Put(AuditKey(a.ID), v)
}
