package store

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

func openAccountsTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAccountEmailUnique(t *testing.T) {
	db := openAccountsTestDB(t)
	if err := db.CreateAccount(&Account{ID: "a1", Email: "pat@example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(&Account{ID: "a2", Email: "pat@example.org"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second account with the same email: got %v, want ErrExists", err)
	}
	if _, err := db.Account("a2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rejected account was stored: got %v, want ErrNotFound", err)
	}
	got, err := db.AccountByEmail("pat@example.org")
	if err != nil || got.ID != "a1" {
		t.Fatalf("AccountByEmail: got %v, %v; want a1", got, err)
	}
}

func TestAccountsPaging(t *testing.T) {
	db := openAccountsTestDB(t)
	for i := range 5 {
		id := fmt.Sprintf("id%d", i)
		if err := db.CreateAccount(&Account{ID: id, Email: id + "@example.org"}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := db.Accounts("", 3)
	if err != nil || len(first) != 3 || first[2].ID != "id2" {
		t.Fatalf("first page: got %d accounts, %v; want id0..id2", len(first), err)
	}
	rest, err := db.Accounts("id2", 3)
	if err != nil || len(rest) != 2 || rest[0].ID != "id3" {
		t.Fatalf("second page: got %d accounts, %v; want id3, id4", len(rest), err)
	}
}

func TestDeleteUserSessionsKeepsOne(t *testing.T) {
	db := openAccountsTestDB(t)
	for i, user := range []string{"u1", "u1", "u1", "u2"} {
		hash := bytes.Repeat([]byte{byte(i + 1)}, 32)
		s := &Session{ID: fmt.Sprintf("s%d", i), UserID: user}
		if err := db.CreateSession(hash, s); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := db.DeleteUserSessions("u1", "s1")
	if err != nil || len(removed) != 2 {
		t.Fatalf("got %d removed, %v; want 2", len(removed), err)
	}
	left, _ := db.UserSessions("u1")
	if len(left) != 1 || left[0].ID != "s1" {
		t.Fatalf("got %d sessions left for u1, want only s1", len(left))
	}
	other, _ := db.UserSessions("u2")
	if len(other) != 1 {
		t.Fatalf("got %d sessions for u2, want 1 untouched", len(other))
	}
	if _, err := db.DeleteSession("u2", "s1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting u1's session as u2: got %v, want ErrNotFound", err)
	}
}

func TestRedeemInvitationRollsBack(t *testing.T) {
	db := openAccountsTestDB(t)
	hash := bytes.Repeat([]byte{7}, 32)
	g := &Grant{AccountID: "a1", ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateInvitedAccount(&Account{ID: "a1", Email: "new@example.org", Status: "invited"}, hash, g); err != nil {
		t.Fatal(err)
	}
	failure := errors.New("password rejected")
	if _, err := db.RedeemInvitation(hash, func(*Grant, *Account) error { return failure }); !errors.Is(err, failure) {
		t.Fatalf("got %v, want the change function's error", err)
	}
	if _, err := db.Invitation(hash); err != nil {
		t.Fatalf("invitation after a failed redeem: %v, want it still usable", err)
	}
	a, err := db.RedeemInvitation(hash, func(_ *Grant, a *Account) error {
		a.Status = "active"
		return nil
	})
	if err != nil || a.Status != "active" || a.InvitationHash != nil {
		t.Fatalf("redeem: got %+v, %v; want active with no invitation hash", a, err)
	}
	if _, err := db.RedeemInvitation(hash, func(*Grant, *Account) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second redeem: got %v, want ErrNotFound", err)
	}
}

func TestIssueInvitationRetiresOld(t *testing.T) {
	db := openAccountsTestDB(t)
	oldHash := bytes.Repeat([]byte{1}, 32)
	newHash := bytes.Repeat([]byte{2}, 32)
	g := &Grant{AccountID: "a1", ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateInvitedAccount(&Account{ID: "a1", Email: "new@example.org"}, oldHash, g); err != nil {
		t.Fatal(err)
	}
	if _, err := db.IssueInvitation(newHash, g, func(*Account) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Invitation(oldHash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old invitation: got %v, want ErrNotFound", err)
	}
	if _, err := db.Invitation(newHash); err != nil {
		t.Fatalf("new invitation: %v", err)
	}
}
