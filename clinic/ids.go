package clinic

import "crypto/rand"

// maxIDLen bounds every id the clinic accepts from a client.
const maxIDLen = 64

// validID reports whether s can be an account, consultation or entry id:
// 1 to 64 characters from A-Z, a-z, 0-9, '-' and '_'. Store keys are paths
// built from ids, so '/' must never pass.
func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// newID returns a random id of 26 base32 characters (130 bits).
func newID() string { return rand.Text() }
