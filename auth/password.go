package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// PasswordParams are the argon2id cost parameters. Every stored hash
// carries its own parameters in PHC string format:
//
//	$argon2id$v=19$m=<memory KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
//
// with salt and hash in unpadded standard base64.
type PasswordParams struct {
	Memory     uint32 // KiB
	Time       uint32 // passes over memory
	Threads    uint8  // lanes
	SaltLength uint32 // bytes
	KeyLength  uint32 // bytes
}

// DefaultPasswordParams returns the second recommended option of RFC 9106
// section 4: 64 MiB of memory, 3 passes, 4 lanes, with a 16-byte salt and
// a 32-byte hash.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 64 << 10, Time: 3, Threads: 4, SaltLength: 16, KeyLength: 32}
}

// Upper bounds for parameters, both in the configuration and in stored
// hashes, so a corrupted record cannot make one check allocate gigabytes.
const (
	maxHashMemory  = 1 << 20 // KiB, 1 GiB
	maxHashTime    = 64
	minSaltLength  = 8
	maxSaltLength  = 64
	minKeyLength   = 16
	maxKeyLength   = 64
	maxPHCLength   = 256
	phcAlgorithm   = "argon2id"
	phcVersionPart = "v=19"
)

func (p PasswordParams) validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("field Threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxHashMemory:
		return fmt.Errorf("field Memory must be between 8×Threads and %d KiB", maxHashMemory)
	case p.Time < 1 || p.Time > maxHashTime:
		return fmt.Errorf("field Time must be between 1 and %d", maxHashTime)
	case p.SaltLength < minSaltLength || p.SaltLength > maxSaltLength:
		return fmt.Errorf("field SaltLength must be between %d and %d", minSaltLength, maxSaltLength)
	case p.KeyLength < minKeyLength || p.KeyLength > maxKeyLength:
		return fmt.Errorf("field KeyLength must be between %d and %d", minKeyLength, maxKeyLength)
	}
	return nil
}

// phcHash is a parsed PHC string.
type phcHash struct {
	params PasswordParams
	salt   []byte
	key    []byte
}

func (h phcHash) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$%s$%s$m=%d,t=%d,p=%d$%s$%s", phcAlgorithm, phcVersionPart,
		h.params.Memory, h.params.Time, h.params.Threads,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// parsePHC parses an argon2id PHC string. It rejects other algorithms and
// versions, parameters out of the bounds above and malformed base64.
func parsePHC(s string) (phcHash, error) {
	var h phcHash
	if len(s) > maxPHCLength {
		return h, errors.New("password hash: too long")
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != phcAlgorithm || parts[2] != phcVersionPart {
		return h, errors.New("password hash: not an argon2id v=19 PHC string")
	}
	m, t, p, err := parsePHCParams(parts[3])
	if err != nil {
		return h, err
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return h, fmt.Errorf("password hash: salt: %w", err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return h, fmt.Errorf("password hash: hash: %w", err)
	}
	h = phcHash{
		params: PasswordParams{
			Memory: m, Time: t, Threads: p,
			SaltLength: uint32(len(salt)), KeyLength: uint32(len(key)),
		},
		salt: salt,
		key:  key,
	}
	if err := h.params.validate(); err != nil {
		return phcHash{}, fmt.Errorf("password hash: %w", err)
	}
	return h, nil
}

func parsePHCParams(s string) (m, t uint32, p uint8, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, errors.New("password hash: want parameters m=,t=,p=")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		num, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return 0, 0, 0, fmt.Errorf("password hash: parameter %d must start with %q", i+1, name)
		}
		vals[i], err = strconv.ParseUint(num, 10, 32)
		if err != nil || (len(num) > 1 && num[0] == '0') {
			return 0, 0, 0, fmt.Errorf("password hash: invalid number in %q", fields[i])
		}
	}
	if vals[2] > 255 {
		return 0, 0, 0, errors.New("password hash: p must be at most 255")
	}
	return uint32(vals[0]), uint32(vals[1]), uint8(vals[2]), nil
}

// hasher computes and checks argon2id hashes with a bound on how many run
// at once. It is safe for concurrent use.
type hasher struct {
	params   PasswordParams
	slots    chan struct{}
	maxQueue int64
	waiting  atomic.Int64
	// count is the number of argon2id computations started; tests use it
	// to check that every sign-in path hashes exactly once.
	count atomic.Int64
}

func newHasher(p PasswordParams, concurrent, queue int) *hasher {
	return &hasher{params: p, slots: make(chan struct{}, concurrent), maxQueue: int64(queue)}
}

// acquire takes a hashing slot, waiting with ctx when all are busy. It
// fails with ErrBusy when MaxHashQueue requests are already waiting.
func (h *hasher) acquire(ctx context.Context) (release func(), err error) {
	select {
	case h.slots <- struct{}{}:
		return h.release, nil
	default:
	}
	if h.waiting.Add(1) > h.maxQueue {
		h.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return h.release, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for password hashing: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.slots }

// derive hashes the NFKC form of password, as NIST SP 800-63B section 5.1.1.2
// recommends, so one passphrase typed with composed or decomposed
// characters, or full-width forms, hashes the same.
func (h *hasher) derive(password string, p PasswordParams, salt []byte) []byte {
	h.count.Add(1)
	normalized := norm.NFKC.String(password)
	return argon2.IDKey([]byte(normalized), salt, p.Time, p.Memory, p.Threads, p.KeyLength)
}

// hash returns the PHC string of password under the current parameters.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	rand.Read(salt)
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return phcHash{params: h.params, salt: salt, key: h.derive(password, h.params, salt)}.String(), nil
}

// verify reports whether password matches the PHC string encoded, and
// whether the hash should be recomputed because its parameters differ from
// the current ones. The comparison runs in constant time.
func (h *hasher) verify(ctx context.Context, password, encoded string) (ok, stale bool, err error) {
	parsed, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	key := h.derive(password, parsed.params, parsed.salt)
	ok = subtle.ConstantTimeCompare(key, parsed.key) == 1
	return ok, parsed.params != h.params, nil
}
