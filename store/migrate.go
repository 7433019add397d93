package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Top-level buckets. Each domain owns its buckets and may nest others
// inside them; a new bucket arrives through a new migration.
var (
	bucketMeta = []byte("meta")

	// Accounts and sign-in.
	BucketAccounts       = []byte("accounts")
	BucketAccountsByMail = []byte("accounts_by_email")
	BucketSessions       = []byte("sessions")
	BucketInvitations    = []byte("invitations")
	BucketResets         = []byte("password_resets")

	// Clinic: care teams, consultations, billing.
	BucketCareTeams     = []byte("care_teams")
	BucketConsultations = []byte("consultations")
	BucketBilling       = []byte("billing")

	// Messaging: devices, conversations, messages, attachments.
	BucketDevices       = []byte("devices")
	BucketConversations = []byte("conversations")
	BucketMessages      = []byte("messages")
	BucketAttachments   = []byte("attachments")

	// Audit trail and alerts.
	BucketAudit       = []byte("audit")
	BucketCheckpoints = []byte("audit_checkpoints")
	BucketAlerts      = []byte("alerts")
)

var keySchemaVersion = []byte("schema_version")

// Migration moves the schema from Version-1 to Version inside one
// transaction. Migrations never change once released: a change to the
// schema is a new migration at the end of the list.
type Migration struct {
	Version uint64
	Name    string
	Up      func(tx *bolt.Tx) error
}

// migrations is the ordered schema history; versions start at 1 and have no
// gaps.
var migrations = []Migration{
	{Version: 1, Name: "create top-level buckets", Up: createBuckets(
		BucketAccounts, BucketAccountsByMail, BucketSessions, BucketInvitations,
		BucketResets, BucketCareTeams, BucketConsultations, BucketBilling,
		BucketDevices, BucketConversations, BucketMessages, BucketAttachments,
		BucketAudit, BucketCheckpoints, BucketAlerts,
	)},
}

func createBuckets(names ...[]byte) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		for _, name := range names {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	}
}

// SchemaVersion returns the schema version recorded in the database.
func (db *DB) SchemaVersion() (uint64, error) {
	var v uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v = schemaVersion(tx)
		return nil
	})
	return v, err
}

func schemaVersion(tx *bolt.Tx) uint64 {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0
	}
	raw := b.Get(keySchemaVersion)
	if len(raw) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

// migrate applies every migration newer than the recorded version, each in
// its own transaction together with the new version number, so a crash
// leaves the database at a whole version.
func (db *DB) migrate(list []Migration) error {
	for i, m := range list {
		if m.Version != uint64(i+1) {
			panic(fmt.Sprintf("store: migration %q has version %d at position %d", m.Name, m.Version, i))
		}
	}
	current, err := db.SchemaVersion()
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > uint64(len(list)) {
		return fmt.Errorf("%w: database has version %d, this binary knows up to %d; "+
			"run a newer bedside or restore a backup", ErrSchemaTooNew, current, len(list))
	}
	for _, m := range list[current:] {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			if err := m.Up(tx); err != nil {
				return err
			}
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			return meta.Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, m.Version))
		})
		if err != nil {
			return fmt.Errorf("apply migration %d (%s): %w", m.Version, m.Name, err)
		}
	}
	return nil
}
