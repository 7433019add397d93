package audit

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what one event may carry into the log. The value limit is
// configurable (Config.MaxDetailValue); the others are fixed because the
// detectors and the admin screens rely on them.
const (
	// DefaultMaxDetailValue is the longest detail value kept, in bytes.
	DefaultMaxDetailValue = 128
	// MaxDetailEntries is the largest number of detail entries kept; the
	// entries with the smallest keys are kept.
	MaxDetailEntries = 16
	// MaxDetailKey is the longest detail key kept, in bytes.
	MaxDetailKey = 48
	// MaxIDLength is the longest ActorID or TargetID kept, in bytes.
	MaxIDLength = 128
	// MaxTypeLength is the longest event type accepted, in bytes.
	MaxTypeLength = 64
	// opaqueMinLength is the length from which an unbroken run of base64
	// or hex characters is taken for a token or key. 128-bit ids in hex,
	// base32, base64 or UUID form are all shorter.
	opaqueMinLength = 40
)

// Reasons a field was stripped, the label values of the stripped metric.
const (
	stripDeniedKey   = "denied_key"
	stripKeySyntax   = "key_syntax"
	stripTooLong     = "too_long"
	stripInvalidText = "invalid_text"
	stripSecretValue = "secret_value"
	stripTooMany     = "too_many"
	stripReserved    = "reserved"
	stripInvalidAddr = "invalid_address"
	stripInvalidType = "invalid_type"
	stripOutcome     = "invalid_outcome"
	stripTime        = "invalid_time"
)

var stripReasons = []string{
	stripDeniedKey, stripKeySyntax, stripTooLong, stripInvalidText, stripSecretValue,
	stripTooMany, stripReserved, stripInvalidAddr, stripInvalidType, stripOutcome, stripTime,
}

// deniedSubstrings reject a detail key wherever they occur in it: no
// legitimate identifier or size is named with them.
var deniedSubstrings = []string{
	"token", "password", "passwd", "passphrase", "secret", "plaintext", "ciphertext",
	"envelope", "cookie", "authorization", "credential", "private", "bearer", "nonce",
}

// deniedWords reject a detail key when one of its words (split at '_',
// '-' and '.') is one of them, with or without a plural s. They are short
// enough to occur inside harmless words, so they are not matched as
// substrings.
var deniedWords = map[string]bool{
	"code": true, "key": true, "content": true, "body": true, "seed": true,
	"otp": true, "totp": true, "pin": true, "text": true, "note": true,
	"pass": true, "pwd": true, "salt": true, "sig": true, "jwt": true,
	"recovery": true, "mnemonic": true, "msg": true,
}

var (
	keySyntax  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	typeSyntax = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)
	jwtLike    = regexp.MustCompile(`^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$`)
)

// sanitizer applies the deny-list and value checks to events before they
// are queued. It is read-only after construction.
type sanitizer struct {
	maxValue int
	now      func() time.Time
	// stripped counts a removed field by reason; it must be safe for
	// concurrent use.
	stripped func(reason string)
}

// clean returns a copy of e that is safe to store: a valid type, bounded
// ids, a parsed address, a known outcome, and only detail entries that
// pass the deny-list and value checks. Detail "stripped" counts what was
// removed. e.Detail is not retained or modified.
func (s *sanitizer) clean(e Event) Event {
	n := 0
	strip := func(reason string) {
		n++
		s.stripped(reason)
	}
	out := Event{Type: e.Type, Time: e.Time, Outcome: e.Outcome}

	if len(out.Type) > MaxTypeLength || !typeSyntax.MatchString(out.Type) {
		out.Type = TypeInvalidEvent
		strip(stripInvalidType)
	}
	if out.Time.IsZero() {
		out.Time = s.now()
	} else if y := out.Time.Year(); y < 1970 || y > 2200 {
		out.Time = s.now()
		strip(stripTime)
	}
	out.Time = out.Time.UTC().Round(0)
	switch out.Outcome {
	case "", OutcomeSuccess, OutcomeFailure, OutcomeDenied:
	default:
		out.Outcome = ""
		strip(stripOutcome)
	}

	out.ActorID = s.cleanID(e.ActorID, strip)
	out.TargetID = s.cleanID(e.TargetID, strip)
	out.Address = cleanAddress(e.Address, strip)
	out.Detail = s.cleanDetail(e.Detail, strip)

	if n > 0 {
		if out.Detail == nil {
			out.Detail = make(map[string]string, 1)
		}
		out.Detail[DetailStripped] = strconv.Itoa(n)
	}
	return out
}

func (s *sanitizer) cleanID(id string, strip func(string)) string {
	switch {
	case id == "":
		return ""
	case len(id) > MaxIDLength:
		strip(stripTooLong)
	case !printable(id):
		strip(stripInvalidText)
	case secretLooking(id):
		strip(stripSecretValue)
	default:
		return id
	}
	return ""
}

func cleanAddress(addr string, strip func(string)) string {
	if addr == "" {
		return ""
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || len(addr) > 64 {
		strip(stripInvalidAddr)
		return ""
	}
	return a.Unmap().String()
}

func (s *sanitizer) cleanDetail(in map[string]string, strip func(string)) map[string]string {
	if len(in) == 0 {
		return nil
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]string, min(len(in), MaxDetailEntries))
	for _, k := range keys {
		v := in[k]
		switch {
		case k == DetailStripped:
			strip(stripReserved)
		case len(k) > MaxDetailKey || !keySyntax.MatchString(k):
			strip(stripKeySyntax)
		case deniedKey(k):
			strip(stripDeniedKey)
		case len(v) > s.maxValue:
			strip(stripTooLong)
		case !printable(v):
			strip(stripInvalidText)
		case secretLooking(v):
			strip(stripSecretValue)
		case len(out) >= MaxDetailEntries:
			strip(stripTooMany)
		default:
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// deniedKey reports whether a detail key names something that must never
// be stored: a token, password, code, key, content or body.
func deniedKey(k string) bool {
	for _, sub := range deniedSubstrings {
		if strings.Contains(k, sub) {
			return true
		}
	}
	for _, w := range strings.FieldsFunc(k, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if deniedWords[w] || deniedWords[strings.TrimSuffix(w, "s")] {
			return true
		}
	}
	return false
}

// printable reports whether s is valid UTF-8 without control characters,
// so a value cannot forge lines in logs or exports.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// secretLooking reports whether v looks like a credential: an
// Authorization header, a PEM block, a JWT, or a long unbroken run of
// base64 or hex characters such as a session token or a key.
func secretLooking(v string) bool {
	lower := strings.ToLower(v)
	if strings.Contains(lower, "bearer ") || strings.Contains(lower, "-----begin") {
		return true
	}
	if jwtLike.MatchString(v) {
		return true
	}
	run := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '+' || c == '/' || c == '=' || c == '_' || c == '-' {
			run++
			if run >= opaqueMinLength {
				return true
			}
			continue
		}
		run = 0
	}
	return false
}
