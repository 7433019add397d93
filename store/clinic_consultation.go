package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Consultation is the stored record of one appointment. It carries no
// clinical content: package clinic owns the meaning of every field.
type Consultation struct {
	ID           string        `json:"id"`
	PatientID    string        `json:"patient_id"`
	Participants []Participant `json:"participants"`
	Start        time.Time     `json:"start"`
	End          time.Time     `json:"end"`
	Status       string        `json:"status"`
	CreatedBy    string        `json:"created_by"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// Participant is one account listed on a consultation.
type Participant struct {
	UserID  string    `json:"user_id"`
	Kind    string    `json:"kind"`
	Role    string    `json:"role,omitempty"`
	AddedBy string    `json:"added_by"`
	AddedAt time.Time `json:"added_at"`
}

func consultationKey(id string) []byte { return []byte("c/" + id) }

// indexKeys returns the participant, patient and time index keys of c.
func (c *Consultation) indexKeys() [][]byte {
	suffix := append(timeKey(c.Start), c.ID...)
	keys := [][]byte{
		append([]byte("p/"+c.PatientID+"/"), suffix...),
		append([]byte("s/"), suffix...),
	}
	for _, p := range c.Participants {
		keys = append(keys, append([]byte("u/"+p.UserID+"/"), suffix...))
	}
	return keys
}

// CreateConsultation stores a new consultation and its index entries. It
// fails with ErrExists when the id is taken.
func (db *DB) CreateConsultation(c *Consultation) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketConsultations)
		if b.Get(consultationKey(c.ID)) != nil {
			return fmt.Errorf("create consultation %s: %w", c.ID, ErrExists)
		}
		return putConsultation(b, c)
	})
}

func putConsultation(b *bolt.Bucket, c *Consultation) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode consultation %s: %w", c.ID, err)
	}
	if err := b.Put(consultationKey(c.ID), raw); err != nil {
		return fmt.Errorf("store consultation %s: %w", c.ID, err)
	}
	for _, k := range c.indexKeys() {
		if err := b.Put(k, []byte{}); err != nil {
			return fmt.Errorf("index consultation %s: %w", c.ID, err)
		}
	}
	return nil
}

// Consultation returns the consultation with the given id, or ErrNotFound.
func (db *DB) Consultation(id string) (*Consultation, error) {
	var c *Consultation
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		c, err = consultationTx(tx, id)
		return err
	})
	return c, err
}

func consultationTx(tx *bolt.Tx, id string) (*Consultation, error) {
	raw := tx.Bucket(BucketConsultations).Get(consultationKey(id))
	if raw == nil {
		return nil, fmt.Errorf("consultation %s: %w", id, ErrNotFound)
	}
	var c Consultation
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("decode consultation %s: %w", id, err)
	}
	return &c, nil
}

// UpdateConsultation applies change to the consultation with the given id
// inside one write transaction, stores the result and rebuilds its index
// entries. When change returns an error nothing is written and that error
// is returned. The id and patient cannot change.
func (db *DB) UpdateConsultation(id string, change func(*Consultation) error) (*Consultation, error) {
	var out *Consultation
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		c, err := consultationTx(tx, id)
		if err != nil {
			return err
		}
		oldKeys := c.indexKeys()
		patient := c.PatientID
		if err := change(c); err != nil {
			return err
		}
		if c.ID != id || c.PatientID != patient {
			panic("store: UpdateConsultation changed the id or patient of consultation " + id)
		}
		b := tx.Bucket(BucketConsultations)
		for _, k := range oldKeys {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("unindex consultation %s: %w", id, err)
			}
		}
		out = c
		return putConsultation(b, c)
	})
	return out, err
}

// ConsultationsOfUser returns up to limit consultations that list userID as
// a participant and start in [from, to), in start order.
func (db *DB) ConsultationsOfUser(userID string, from, to time.Time, limit int) ([]*Consultation, error) {
	return db.scanIndex([]byte("u/"+userID+"/"), from, to, limit)
}

// ConsultationsOfPatient returns up to limit consultations of patientID
// that start in [from, to), in start order.
func (db *DB) ConsultationsOfPatient(patientID string, from, to time.Time, limit int) ([]*Consultation, error) {
	return db.scanIndex([]byte("p/"+patientID+"/"), from, to, limit)
}

// ConsultationsBetween returns up to limit consultations of any patient
// that start in [from, to), in start order.
func (db *DB) ConsultationsBetween(from, to time.Time, limit int) ([]*Consultation, error) {
	return db.scanIndex([]byte("s/"), from, to, limit)
}

func (db *DB) scanIndex(prefix []byte, from, to time.Time, limit int) ([]*Consultation, error) {
	out := []*Consultation{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(BucketConsultations).Cursor()
		start := append(bytes.Clone(prefix), timeKey(from)...)
		end := append(bytes.Clone(prefix), timeKey(to)...)
		for k, _ := c.Seek(start); k != nil && bytes.Compare(k, end) < 0 && len(out) < limit; k, _ = c.Next() {
			id := string(k[len(prefix)+8:])
			cons, err := consultationTx(tx, id)
			if err != nil {
				return fmt.Errorf("index entry %q: %w", k, err)
			}
			out = append(out, cons)
		}
		return nil
	})
	return out, err
}

// SharesConsultation reports whether a and b are both participants of at
// least one consultation.
func (db *DB) SharesConsultation(a, b string) (bool, error) {
	var shared bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(BucketConsultations)
		prefixA := []byte("u/" + a + "/")
		prefixB := []byte("u/" + b + "/")
		c := bucket.Cursor()
		for k, _ := c.Seek(prefixA); k != nil && bytes.HasPrefix(k, prefixA); k, _ = c.Next() {
			if bucket.Get(append(bytes.Clone(prefixB), k[len(prefixA):]...)) != nil {
				shared = true
				return nil
			}
		}
		return nil
	})
	return shared, err
}
