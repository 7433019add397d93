package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Clinic records: care teams in BucketCareTeams, consultations in
// BucketConsultations and billing entries in BucketBilling. Keys are
// prefixed paths built from ids; ids must not contain '/', which package
// clinic guarantees by validating every id it accepts.
//
//	care_teams     t/<patient>/<member>        CareTeamMember (JSON)
//	               m/<member>/<patient>        empty: reverse index
//	consultations  c/<id>                      Consultation (JSON)
//	               u/<user>/<start><id>        empty: participant index
//	               p/<patient>/<start><id>     empty: patient index
//	               s/<start><id>               empty: time index
//	billing        b/<consultation>/<entry>    BillingEntry (JSON)
//
// <start> is the scheduled start as 8 bytes of big-endian Unix seconds, so
// a prefix scan returns a user's consultations in time order.

// CareTeamMember is one clinician or nurse assigned to a patient.
type CareTeamMember struct {
	PatientID string    `json:"patient_id"`
	UserID    string    `json:"user_id"`
	Role      string    `json:"role"`
	AddedBy   string    `json:"added_by"`
	AddedAt   time.Time `json:"added_at"`
}

func careTeamKey(patientID, userID string) []byte {
	return []byte("t/" + patientID + "/" + userID)
}

func careTeamPrefix(patientID string) []byte { return []byte("t/" + patientID + "/") }

func memberKey(userID, patientID string) []byte {
	return []byte("m/" + userID + "/" + patientID)
}

func memberPrefix(userID string) []byte { return []byte("m/" + userID + "/") }

// CareTeam returns the members of a patient's care team in user id order;
// an empty team is an empty slice and no error.
func (db *DB) CareTeam(patientID string) ([]CareTeamMember, error) {
	var out []CareTeamMember
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		out, err = careTeamTx(tx, patientID)
		return err
	})
	return out, err
}

func careTeamTx(tx *bolt.Tx, patientID string) ([]CareTeamMember, error) {
	out := []CareTeamMember{}
	prefix := careTeamPrefix(patientID)
	c := tx.Bucket(BucketCareTeams).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var m CareTeamMember
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("decode care team member %s: %w", k, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// InCareTeam reports whether userID is in the care team of patientID.
func (db *DB) InCareTeam(patientID, userID string) (bool, error) {
	var in bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		in = tx.Bucket(BucketCareTeams).Get(careTeamKey(patientID, userID)) != nil
		return nil
	})
	return in, err
}

// CareTeamPatients returns the ids of the patients whose care team
// includes userID, in id order.
func (db *DB) CareTeamPatients(userID string) ([]string, error) {
	var out []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		out = careTeamPatientsTx(tx, userID)
		return nil
	})
	return out, err
}

func careTeamPatientsTx(tx *bolt.Tx, userID string) []string {
	var out []string
	prefix := memberPrefix(userID)
	c := tx.Bucket(BucketCareTeams).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

// UpdateCareTeam replaces the care team of patientID with what change
// returns from the current members, inside one write transaction, and
// keeps the reverse index in step. change may modify and return the slice
// it gets. When change returns an error nothing is written. It returns the
// new team.
func (db *DB) UpdateCareTeam(patientID string, change func([]CareTeamMember) ([]CareTeamMember, error)) ([]CareTeamMember, error) {
	var out []CareTeamMember
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		current, err := careTeamTx(tx, patientID)
		if err != nil {
			return err
		}
		// change gets a copy, so editing it in place cannot hide which
		// members must be removed below.
		next, err := change(slices.Clone(current))
		if err != nil {
			return err
		}
		b := tx.Bucket(BucketCareTeams)
		for _, m := range current {
			if err := b.Delete(careTeamKey(patientID, m.UserID)); err != nil {
				return fmt.Errorf("remove care team member %s: %w", m.UserID, err)
			}
			if err := b.Delete(memberKey(m.UserID, patientID)); err != nil {
				return fmt.Errorf("remove care team index %s: %w", m.UserID, err)
			}
		}
		for _, m := range next {
			m.PatientID = patientID
			raw, err := json.Marshal(m)
			if err != nil {
				return fmt.Errorf("encode care team member %s: %w", m.UserID, err)
			}
			if err := b.Put(careTeamKey(patientID, m.UserID), raw); err != nil {
				return fmt.Errorf("store care team member %s: %w", m.UserID, err)
			}
			if err := b.Put(memberKey(m.UserID, patientID), []byte{}); err != nil {
				return fmt.Errorf("store care team index %s: %w", m.UserID, err)
			}
		}
		out, err = careTeamTx(tx, patientID)
		return err
	})
	return out, err
}

// SharesCareTeam reports whether a and b both belong to one patient's care
// thread: one is the patient and the other in his care team, or both are
// in the care team of one patient.
func (db *DB) SharesCareTeam(a, b string) (bool, error) {
	var shared bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		teams := tx.Bucket(BucketCareTeams)
		if teams.Get(careTeamKey(a, b)) != nil || teams.Get(careTeamKey(b, a)) != nil {
			shared = true
			return nil
		}
		for _, patient := range careTeamPatientsTx(tx, a) {
			if teams.Get(careTeamKey(patient, b)) != nil {
				shared = true
				return nil
			}
		}
		return nil
	})
	return shared, err
}

// timeKey encodes t as 8 bytes of big-endian Unix seconds. Times before
// 1970 are rejected by package clinic and clamp to zero here.
func timeKey(t time.Time) []byte {
	s := t.Unix()
	if s < 0 {
		s = 0
	}
	return binary.BigEndian.AppendUint64(nil, uint64(s))
}
