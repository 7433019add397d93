package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BillingEntry is one billable item of a consultation. Sealed contains the
// sensitive fields (service code, amount, currency, payer reference) sealed
// by package clinic with Sealer, bound to the entry's location.
type BillingEntry struct {
	ID             string    `json:"id"`
	ConsultationID string    `json:"consultation_id"`
	PatientID      string    `json:"patient_id"`
	Sealed         []byte    `json:"sealed"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedBy      string    `json:"updated_by"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func billingKey(consultationID, entryID string) []byte {
	return []byte("b/" + consultationID + "/" + entryID)
}

// CreateBillingEntry stores a new entry. It fails with ErrNotFound when the
// consultation does not exist and ErrExists when the entry id is taken.
func (db *DB) CreateBillingEntry(e *BillingEntry) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if _, err := consultationTx(tx, e.ConsultationID); err != nil {
			return err
		}
		b := tx.Bucket(BucketBilling)
		if b.Get(billingKey(e.ConsultationID, e.ID)) != nil {
			return fmt.Errorf("create billing entry %s: %w", e.ID, ErrExists)
		}
		return putBillingEntry(b, e)
	})
}

func putBillingEntry(b *bolt.Bucket, e *BillingEntry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode billing entry %s: %w", e.ID, err)
	}
	if err := b.Put(billingKey(e.ConsultationID, e.ID), raw); err != nil {
		return fmt.Errorf("store billing entry %s: %w", e.ID, err)
	}
	return nil
}

// BillingEntries returns the entries of a consultation in entry id order.
func (db *DB) BillingEntries(consultationID string) ([]*BillingEntry, error) {
	out := []*BillingEntry{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		prefix := []byte("b/" + consultationID + "/")
		c := tx.Bucket(BucketBilling).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var e BillingEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode billing entry %s: %w", k, err)
			}
			out = append(out, &e)
		}
		return nil
	})
	return out, err
}

// UpdateBillingEntry applies change to one entry inside a write
// transaction and stores the result. When change returns an error nothing
// is written. It fails with ErrNotFound when the entry does not exist.
func (db *DB) UpdateBillingEntry(consultationID, entryID string, change func(*BillingEntry) error) (*BillingEntry, error) {
	var out *BillingEntry
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketBilling)
		raw := b.Get(billingKey(consultationID, entryID))
		if raw == nil {
			return fmt.Errorf("billing entry %s: %w", entryID, ErrNotFound)
		}
		var e BillingEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("decode billing entry %s: %w", entryID, err)
		}
		if err := change(&e); err != nil {
			return err
		}
		if e.ID != entryID || e.ConsultationID != consultationID {
			panic("store: UpdateBillingEntry changed the id of billing entry " + entryID)
		}
		out = &e
		return putBillingEntry(b, &e)
	})
	return out, err
}
