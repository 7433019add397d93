package turnrelay

import (
	"crypto/hmac"
	"crypto/sha1" // #nosec G505 -- HMAC-SHA1 is fixed by the TURN REST API credential scheme.
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/pion/turn/v5"
)

// maxUsernameLen bounds the TURN username this server parses.
const maxUsernameLen = 256

// Credentials returns a TURN REST API username and password for userID that
// expire at expiry. The password is base64(HMAC-SHA1(secret, username)).
func Credentials(secret []byte, userID string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + userID
	return username, credentialPassword(secret, username)
}

func credentialPassword(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits "expiry:userID". It returns ok false for a malformed
// name, an empty user ID or an expiry that is not a decimal Unix time.
func parseUsername(username string) (expiry time.Time, userID string, ok bool) {
	if len(username) > maxUsernameLen {
		return time.Time{}, "", false
	}
	stamp, id, found := strings.Cut(username, ":")
	if !found || id == "" {
		return time.Time{}, "", false
	}
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}, "", false
	}
	return time.Unix(secs, 0), id, true
}

// authenticate implements turn.AuthHandler. It returns the long-term key for
// an unexpired username whose expiry is no further ahead than maxTTL, and the
// user ID as the allocation owner. Pion checks MESSAGE-INTEGRITY with the key.
func (s *Server) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	expiry, userID, ok := parseUsername(ra.Username)
	if !ok {
		s.log.Debug("turn request rejected: malformed username", "client", ra.SrcAddr.String())
		return "", nil, false
	}
	now := s.now()
	if !now.Before(expiry) {
		s.log.Debug("turn request rejected: credential expired", "client", ra.SrcAddr.String(), "user", userID)
		return "", nil, false
	}
	if expiry.Sub(now) > s.maxTTL+time.Minute {
		s.log.Debug("turn request rejected: credential lifetime too long", "client", ra.SrcAddr.String(), "user", userID)
		return "", nil, false
	}
	password := credentialPassword(s.secret, ra.Username)
	return userID, turn.GenerateAuthKey(ra.Username, ra.Realm, password), true
}
