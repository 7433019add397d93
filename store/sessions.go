package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BucketSessions holds three kinds of keys, each under its own prefix:
//
//	"t/" + SHA-256(session token)  -> Session as JSON
//	"u/" + user id + "/" + session id -> SHA-256(session token)
//	"c/" + SHA-256(challenge token) -> Challenge as JSON
//
// Tokens themselves are never stored.
var (
	prefixSessionToken = []byte("t/")
	prefixUserSession  = []byte("u/")
	prefixChallenge    = []byte("c/")
)

// Session is the stored record of one sign-in session.
type Session struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	// ExpiresAt is the absolute end of the session, whatever its activity.
	ExpiresAt time.Time `json:"expires_at"`
	// SecondFactor is true when the session was established or confirmed
	// with a second factor.
	SecondFactor bool   `json:"second_factor"`
	Address      string `json:"address,omitempty"`
	UserAgent    string `json:"user_agent,omitempty"`
}

// Challenge is a pending second-factor step of a sign-in: the password was
// right and the account still has to present a TOTP or recovery code.
type Challenge struct {
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
	Attempts  int       `json:"attempts"`
	Address   string    `json:"address,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
}

func sessionKey(tokenHash []byte) []byte { return prefixedKey(prefixSessionToken, tokenHash) }

func userSessionKey(userID, sessionID string) []byte {
	return prefixedKey(prefixUserSession, []byte(userID+"/"+sessionID))
}

func challengeKey(tokenHash []byte) []byte { return prefixedKey(prefixChallenge, tokenHash) }

func prefixedKey(a, b []byte) []byte {
	out := make([]byte, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// CreateSession stores s under the hash of its token.
func (db *DB) CreateSession(tokenHash []byte, s *Session) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketSessions)
		if b.Get(sessionKey(tokenHash)) != nil {
			return fmt.Errorf("create session: %w", ErrExists)
		}
		if err := putAuthRecord(b, sessionKey(tokenHash), s); err != nil {
			return fmt.Errorf("create session %s: %w", s.ID, err)
		}
		return b.Put(userSessionKey(s.UserID, s.ID), tokenHash)
	})
}

// SessionByTokenHash returns the session stored under tokenHash, or
// ErrNotFound.
func (db *DB) SessionByTokenHash(tokenHash []byte) (*Session, error) {
	var s *Session
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		s, err = getSession(tx.Bucket(BucketSessions), tokenHash)
		return err
	})
	return s, err
}

// UpdateSession applies change to the session stored under tokenHash.
// Its id and user cannot change.
func (db *DB) UpdateSession(tokenHash []byte, change func(*Session) error) (*Session, error) {
	var s *Session
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketSessions)
		var err error
		if s, err = getSession(b, tokenHash); err != nil {
			return err
		}
		id, user := s.ID, s.UserID
		if err := change(s); err != nil {
			return err
		}
		if s.ID != id || s.UserID != user {
			panic("store: UpdateSession changed the id or user of session " + id)
		}
		return putAuthRecord(b, sessionKey(tokenHash), s)
	})
	return s, err
}

// UserSessions returns every session of the user, expired ones included,
// in session id order.
func (db *DB) UserSessions(userID string) ([]*Session, error) {
	var out []*Session
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketSessions)
		prefix := userSessionKey(userID, "")
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			s, err := getSession(b, v)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// DeleteSession removes the user's session with the given id and returns
// it, or ErrNotFound when the user has no such session.
func (db *DB) DeleteSession(userID, sessionID string) (*Session, error) {
	var s *Session
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketSessions)
		hash := b.Get(userSessionKey(userID, sessionID))
		if hash == nil {
			return fmt.Errorf("session %s: %w", sessionID, ErrNotFound)
		}
		var err error
		s, err = deleteSession(b, bytes.Clone(hash))
		return err
	})
	return s, err
}

// DeleteUserSessions removes every session of the user except the one with
// id keep (none when keep is empty) and returns the removed sessions.
func (db *DB) DeleteUserSessions(userID, keep string) ([]*Session, error) {
	var out []*Session
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketSessions)
		prefix := userSessionKey(userID, "")
		var hashes [][]byte
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if keep != "" && string(k[len(prefix):]) == keep {
				continue
			}
			hashes = append(hashes, bytes.Clone(v))
		}
		for _, h := range hashes {
			s, err := deleteSession(b, h)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// DeleteSessionsWhere removes every session for which expired returns true
// and returns the removed sessions. It scans all sessions in one write
// transaction.
func (db *DB) DeleteSessionsWhere(expired func(*Session) bool) ([]*Session, error) {
	var out []*Session
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketSessions)
		var hashes [][]byte
		c := b.Cursor()
		for k, v := c.Seek(prefixSessionToken); k != nil && bytes.HasPrefix(k, prefixSessionToken); k, v = c.Next() {
			var s Session
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			if expired(&s) {
				hashes = append(hashes, bytes.Clone(k[len(prefixSessionToken):]))
			}
		}
		for _, h := range hashes {
			s, err := deleteSession(b, h)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

func getSession(b *bolt.Bucket, tokenHash []byte) (*Session, error) {
	raw := b.Get(sessionKey(tokenHash))
	if raw == nil {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	var s Session
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	return &s, nil
}

func deleteSession(b *bolt.Bucket, tokenHash []byte) (*Session, error) {
	s, err := getSession(b, tokenHash)
	if err != nil {
		return nil, err
	}
	if err := b.Delete(sessionKey(tokenHash)); err != nil {
		return nil, fmt.Errorf("delete session %s: %w", s.ID, err)
	}
	if err := b.Delete(userSessionKey(s.UserID, s.ID)); err != nil {
		return nil, fmt.Errorf("delete session %s: %w", s.ID, err)
	}
	return s, nil
}

// PutChallenge stores c under the hash of its token, replacing any
// challenge stored there.
func (db *DB) PutChallenge(tokenHash []byte, c *Challenge) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return putAuthRecord(tx.Bucket(BucketSessions), challengeKey(tokenHash), c)
	})
}

// TakeChallenge removes the challenge stored under tokenHash and returns
// it, so each challenge is used at most once. It returns ErrNotFound when
// there is none.
func (db *DB) TakeChallenge(tokenHash []byte) (*Challenge, error) {
	var c Challenge
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketSessions)
		raw := b.Get(challengeKey(tokenHash))
		if raw == nil {
			return fmt.Errorf("challenge: %w", ErrNotFound)
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("decode challenge: %w", err)
		}
		return b.Delete(challengeKey(tokenHash))
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// DeleteChallengesBefore removes every challenge that expired before now
// and returns how many it removed.
func (db *DB) DeleteChallengesBefore(now time.Time) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketSessions)
		var keys [][]byte
		c := b.Cursor()
		for k, v := c.Seek(prefixChallenge); k != nil && bytes.HasPrefix(k, prefixChallenge); k, v = c.Next() {
			var ch Challenge
			if err := json.Unmarshal(v, &ch); err != nil || ch.ExpiresAt.Before(now) {
				keys = append(keys, bytes.Clone(k))
			}
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}

// UpdateUserSession applies change to the user's session with the given
// id, or returns ErrNotFound when the user has no such session.
func (db *DB) UpdateUserSession(userID, sessionID string, change func(*Session) error) (*Session, error) {
	var hash []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		hash = bytes.Clone(tx.Bucket(BucketSessions).Get(userSessionKey(userID, sessionID)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if hash == nil {
		return nil, fmt.Errorf("session %s: %w", sessionID, ErrNotFound)
	}
	return db.UpdateSession(hash, change)
}
