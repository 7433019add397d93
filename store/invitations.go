package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Grant is a single-use token record that lets its holder set the password
// of one account: an invitation (BucketInvitations) or a password reset
// (BucketResets). It is stored under the SHA-256 hash of the token, never
// the token itself, and the account keeps the same hash in InvitationHash
// or ResetHash so that issuing a new token retires the previous one.
type Grant struct {
	AccountID string    `json:"account_id"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateInvitedAccount stores a new account together with its invitation,
// in one transaction. It fails with ErrExists when the id or email is
// taken.
func (db *DB) CreateInvitedAccount(a *Account, tokenHash []byte, g *Grant) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		a.InvitationHash = bytes.Clone(tokenHash)
		if err := CreateAccountTx(tx, a); err != nil {
			return err
		}
		return putAuthRecord(tx.Bucket(BucketInvitations), tokenHash, g)
	})
}

// IssueInvitation stores a new invitation for an existing account and
// deletes its previous one. check runs first on the account inside the
// transaction; an error from it aborts the issue.
func (db *DB) IssueInvitation(tokenHash []byte, g *Grant, check func(*Account) error) (*Account, error) {
	return db.issueGrant(BucketInvitations, tokenHash, g, check, func(a *Account) *[]byte {
		return &a.InvitationHash
	})
}

// IssueReset stores a new password-reset grant for an existing account and
// deletes its previous one, as IssueInvitation does for invitations.
func (db *DB) IssueReset(tokenHash []byte, g *Grant, check func(*Account) error) (*Account, error) {
	return db.issueGrant(BucketResets, tokenHash, g, check, func(a *Account) *[]byte {
		return &a.ResetHash
	})
}

// RedeemInvitation removes the invitation stored under tokenHash and
// applies change to its account, in one transaction. When change fails,
// the invitation stays usable. It returns ErrNotFound for an unknown or
// retired token; change must check the expiry.
func (db *DB) RedeemInvitation(tokenHash []byte, change func(*Grant, *Account) error) (*Account, error) {
	return db.redeemGrant(BucketInvitations, tokenHash, change, func(a *Account) *[]byte {
		return &a.InvitationHash
	})
}

// RedeemReset removes the password-reset grant stored under tokenHash and
// applies change to its account, as RedeemInvitation does.
func (db *DB) RedeemReset(tokenHash []byte, change func(*Grant, *Account) error) (*Account, error) {
	return db.redeemGrant(BucketResets, tokenHash, change, func(a *Account) *[]byte {
		return &a.ResetHash
	})
}

// DeleteGrantsBefore removes invitations and password resets that expired
// before now and returns how many it removed. The accounts keep the hash,
// which then matches no grant.
func (db *DB) DeleteGrantsBefore(now time.Time) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{BucketInvitations, BucketResets} {
			b := tx.Bucket(name)
			var keys [][]byte
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				var g Grant
				if err := json.Unmarshal(v, &g); err != nil || g.ExpiresAt.Before(now) {
					keys = append(keys, bytes.Clone(k))
				}
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n += len(keys)
		}
		return nil
	})
	return n, err
}

func (db *DB) issueGrant(bucket, tokenHash []byte, g *Grant, check func(*Account) error,
	field func(*Account) *[]byte,
) (*Account, error) {
	var out *Account
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		var err error
		out, err = UpdateAccountTx(tx, g.AccountID, func(a *Account) error {
			if err := check(a); err != nil {
				return err
			}
			if old := *field(a); old != nil {
				if err := b.Delete(old); err != nil {
					return err
				}
			}
			*field(a) = bytes.Clone(tokenHash)
			return nil
		})
		if err != nil {
			return err
		}
		return putAuthRecord(b, tokenHash, g)
	})
	return out, err
}

func (db *DB) redeemGrant(bucket, tokenHash []byte, change func(*Grant, *Account) error,
	field func(*Account) *[]byte,
) (*Account, error) {
	var out *Account
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		raw := b.Get(tokenHash)
		if raw == nil {
			return fmt.Errorf("token: %w", ErrNotFound)
		}
		var g Grant
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("decode grant: %w", err)
		}
		if err := b.Delete(tokenHash); err != nil {
			return err
		}
		var err error
		out, err = UpdateAccountTx(tx, g.AccountID, func(a *Account) error {
			if !bytes.Equal(*field(a), tokenHash) {
				return fmt.Errorf("token retired: %w", ErrNotFound)
			}
			if err := change(&g, a); err != nil {
				return err
			}
			*field(a) = nil
			return nil
		})
		return err
	})
	return out, err
}

func putAuthRecord(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return b.Put(key, raw)
}

// Invitation returns the invitation stored under tokenHash, or ErrNotFound.
func (db *DB) Invitation(tokenHash []byte) (*Grant, error) {
	return db.grant(BucketInvitations, tokenHash)
}

// Reset returns the password-reset grant stored under tokenHash, or
// ErrNotFound.
func (db *DB) Reset(tokenHash []byte) (*Grant, error) {
	return db.grant(BucketResets, tokenHash)
}

func (db *DB) grant(bucket, tokenHash []byte) (*Grant, error) {
	var g Grant
	err := db.bolt.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucket).Get(tokenHash)
		if raw == nil {
			return fmt.Errorf("token: %w", ErrNotFound)
		}
		return json.Unmarshal(raw, &g)
	})
	if err != nil {
		return nil, err
	}
	return &g, nil
}
