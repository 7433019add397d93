package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

func TestOpenAppliesMigrations(t *testing.T) {
	db, _ := openTemp(t)
	v, err := db.SchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(len(migrations)); v != want {
		t.Fatalf("schema version: got %d, want %d", v, want)
	}
	err = db.Bolt().View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{BucketAccounts, BucketMessages, BucketAudit} {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing after migration", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrateRunsOnlyNewSteps(t *testing.T) {
	db, _ := openTemp(t)
	var ran []uint64
	step := func(v uint64) Migration {
		return Migration{Version: v, Name: "test", Up: func(*bolt.Tx) error {
			ran = append(ran, v)
			return nil
		}}
	}
	list := append([]Migration{}, migrations...)
	list = append(list, step(uint64(len(list)+1)), step(uint64(len(list)+2)))
	if err := db.migrate(list); err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if err := db.migrate(list); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(ran) != 2 {
		t.Fatalf("migration steps run: got %v, want the two new ones once", ran)
	}
}

func TestMigrateFailureKeepsVersion(t *testing.T) {
	db, _ := openTemp(t)
	before, _ := db.SchemaVersion()
	list := append([]Migration{}, migrations...)
	list = append(list, Migration{Version: uint64(len(list) + 1), Name: "broken", Up: func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("half")); err != nil {
			return err
		}
		return errors.New("boom")
	}})
	if err := db.migrate(list); err == nil {
		t.Fatal("migrate with a failing step: got nil error")
	}
	after, _ := db.SchemaVersion()
	if after != before {
		t.Fatalf("schema version after failed migration: got %d, want %d", after, before)
	}
	db.Bolt().View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("half")) != nil {
			t.Error("failed migration left its bucket behind")
		}
		return nil
	})
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	db, dir := openTemp(t)
	err := db.Bolt().Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte{0, 0, 0, 0, 0, 0, 0, 99})
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: got %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenLockedDatabase(t *testing.T) {
	_, dir := openTemp(t)
	start := time.Now()
	_, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("second Open did not honour the lock timeout")
	}
}

func TestOpenCorruptFileLeavesItUntouched(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	junk := bytes.Repeat([]byte("not a database "), 1000)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a corrupt file: got %v, want ErrCorrupt", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, junk) {
		t.Fatal("Open changed a corrupt file")
	}
}

func TestBackupRestore(t *testing.T) {
	db, dir := openTemp(t)
	err := db.Bolt().Update(func(tx *bolt.Tx) error {
		return tx.Bucket(BucketAccounts).Put([]byte("u1"), []byte("record one"))
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "copy.db")
	if _, err := db.BackupFile(out); err != nil {
		t.Fatalf("BackupFile: %v", err)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("backup mode: got %04o, want 0600", perm)
	}
	if _, err := db.BackupFile(out); err == nil {
		t.Error("BackupFile over an existing file: got nil error, want refusal")
	}

	restored, err := OpenFile(out, Options{})
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer restored.Close()
	if err := restored.Check(); err != nil {
		t.Fatalf("backup consistency: %v", err)
	}
	restored.Bolt().View(func(tx *bolt.Tx) error {
		got := tx.Bucket(BucketAccounts).Get([]byte("u1"))
		if string(got) != "record one" {
			t.Errorf("restored record: got %q, want %q", got, "record one")
		}
		return nil
	})
}
