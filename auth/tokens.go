package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Token prefixes. Every secret token is the prefix followed by 32 random
// bytes (256 bits) in unpadded base64url, 47 characters in all. The prefix
// tells a reader, a log scrubber or a secret scanner what leaked.
const (
	prefixSession    = "bss_"
	prefixChallenge  = "bsc_"
	prefixInvitation = "bsi_"
	prefixReset      = "bsr_"
)

const (
	tokenRandomBytes = 32
	tokenLength      = 4 + 43
)

// newToken returns a fresh token with the prefix and the SHA-256 digest
// under which it is stored.
func newToken(prefix string) (token string, digest []byte) {
	var b [tokenRandomBytes]byte
	rand.Read(b[:])
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

// hashToken returns the SHA-256 digest of a token. Tokens carry 256 bits
// of entropy, so an unsalted fast hash is enough to keep a database copy
// from granting access.
func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// parseToken checks that token has the given prefix and the right length
// and alphabet, and returns its digest. A malformed token is rejected
// without touching the database.
func parseToken(prefix, token string) ([]byte, bool) {
	if len(token) != tokenLength || !strings.HasPrefix(token, prefix) {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(token[len(prefix):]); err != nil {
		return nil, false
	}
	return hashToken(token), true
}

// looksLikeToken reports whether s contains a token of this package, so
// one that shows up in a URL can be rejected.
func looksLikeToken(s string) bool {
	for _, p := range []string{prefixSession, prefixChallenge, prefixInvitation, prefixReset} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
