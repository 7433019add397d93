package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Account is the stored record of one user account, encoded as JSON under
// its id in BucketAccounts. The email index in BucketAccountsByMail maps
// the normalised email to the id. Package auth owns the meaning of every
// field; this package only keeps the record and its index consistent.
type Account struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// PasswordHash is a PHC string ($argon2id$v=19$m=...); empty until the
	// invitation is accepted.
	PasswordHash      string    `json:"password_hash,omitempty"`
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`

	// TOTPSeed is the confirmed TOTP secret sealed with store.Sealer;
	// TOTPPending is an enrollment not yet confirmed. TOTPLastStep is the
	// last accepted time step, so a code is never accepted twice.
	TOTPSeed     []byte `json:"totp_seed,omitempty"`
	TOTPPending  []byte `json:"totp_pending,omitempty"`
	TOTPLastStep uint64 `json:"totp_last_step,omitempty"`
	// RecoveryHashes are SHA-256 digests of the unused recovery codes.
	RecoveryHashes [][]byte `json:"recovery_hashes,omitempty"`

	// FailedLogins is the number of consecutive failed sign-ins that led
	// to the current lock. LockedUntil is set while Status is "locked".
	FailedLogins int       `json:"failed_logins,omitempty"`
	LockedUntil  time.Time `json:"locked_until,omitzero"`

	// InvitationHash and ResetHash are the SHA-256 digests of the current
	// invitation and password-reset tokens, so a new token retires the old.
	InvitationHash []byte `json:"invitation_hash,omitempty"`
	ResetHash      []byte `json:"reset_hash,omitempty"`
	// InvitedBy is the account that created this account by an invitation;
	// empty when the operator created it. Only that account or an
	// administrator may issue a new invitation token for it.
	InvitedBy string `json:"invited_by,omitempty"`
}

// CreateAccount stores a new account and its email index entry. It fails
// with ErrExists when the id or the email is taken.
func (db *DB) CreateAccount(a *Account) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return CreateAccountTx(tx, a)
	})
}

// CreateAccountTx is CreateAccount inside a caller's write transaction.
func CreateAccountTx(tx *bolt.Tx, a *Account) error {
	accounts := tx.Bucket(BucketAccounts)
	byMail := tx.Bucket(BucketAccountsByMail)
	if accounts.Get([]byte(a.ID)) != nil {
		return fmt.Errorf("create account %s: %w", a.ID, ErrExists)
	}
	if byMail.Get([]byte(a.Email)) != nil {
		return fmt.Errorf("create account: email: %w", ErrExists)
	}
	if err := byMail.Put([]byte(a.Email), []byte(a.ID)); err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, err)
	}
	return putAccount(accounts, a)
}

// Account returns the account with the given id, or ErrNotFound.
func (db *DB) Account(id string) (*Account, error) {
	var a *Account
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		a, err = AccountTx(tx, id)
		return err
	})
	return a, err
}

// AccountTx is Account inside a caller's transaction.
func AccountTx(tx *bolt.Tx, id string) (*Account, error) {
	raw := tx.Bucket(BucketAccounts).Get([]byte(id))
	if raw == nil {
		return nil, fmt.Errorf("account %s: %w", id, ErrNotFound)
	}
	var a Account
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("decode account %s: %w", id, err)
	}
	return &a, nil
}

// AccountByEmail returns the account registered under the normalised
// email, or ErrNotFound.
func (db *DB) AccountByEmail(email string) (*Account, error) {
	var a *Account
	err := db.bolt.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(BucketAccountsByMail).Get([]byte(email))
		if id == nil {
			return fmt.Errorf("account by email: %w", ErrNotFound)
		}
		var err error
		a, err = AccountTx(tx, string(id))
		return err
	})
	return a, err
}

// UpdateAccount applies change to the account with the given id inside one
// write transaction and stores the result. When change returns an error,
// nothing is written and that error is returned. The email and id cannot
// change through this method.
func (db *DB) UpdateAccount(id string, change func(*Account) error) (*Account, error) {
	var out *Account
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var err error
		out, err = UpdateAccountTx(tx, id, change)
		return err
	})
	return out, err
}

// UpdateAccountTx is UpdateAccount inside a caller's write transaction.
func UpdateAccountTx(tx *bolt.Tx, id string, change func(*Account) error) (*Account, error) {
	a, err := AccountTx(tx, id)
	if err != nil {
		return nil, err
	}
	email := a.Email
	if err := change(a); err != nil {
		return nil, err
	}
	if a.ID != id || a.Email != email {
		panic("store: UpdateAccount changed the id or email of account " + id)
	}
	if err := putAccount(tx.Bucket(BucketAccounts), a); err != nil {
		return nil, err
	}
	return a, nil
}

// Accounts returns up to limit accounts in id order, starting after the id
// after (empty for the first page).
func (db *DB) Accounts(after string, limit int) ([]*Account, error) {
	var out []*Account
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(BucketAccounts).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && bytes.Equal(k, []byte(after)) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			var a Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode account %s: %w", k, err)
			}
			out = append(out, &a)
		}
		return nil
	})
	return out, err
}

func putAccount(b *bolt.Bucket, a *Account) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode account %s: %w", a.ID, err)
	}
	if err := b.Put([]byte(a.ID), raw); err != nil {
		return fmt.Errorf("store account %s: %w", a.ID, err)
	}
	return nil
}
