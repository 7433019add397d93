package auth

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/bedside-health/bedside/policy"
)

// Password length limits in Unicode code points, after NIST SP 800-63B
// section 5.1.1.2: at least 8 for everyone, 12 for staff accounts because
// they reach many patients' records, and at most 128 so a hash input stays
// bounded. There are no composition rules.
const (
	MinPasswordLength      = 8
	MinStaffPasswordLength = 12
	MaxPasswordLength      = 128
)

// productName is always rejected as part of a password, besides the
// configured TOTP issuer name.
const productName = "bedside"

// maxStrippedSuffix is how many trailing digits and symbols the common
// password check removes before its second look-up.
const maxStrippedSuffix = 6

//go:embed common_passwords.txt
var commonPasswordFile string

// commonPasswords returns the embedded list as a set; it is built once and
// never changed.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 512)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
})

// keyboardRuns are the sequences whose substrings count as sequential, in
// both directions.
var keyboardRuns = []string{
	"abcdefghijklmnopqrstuvwxyz",
	"0123456789",
	"qwertyuiop", "asdfghjkl", "zxcvbnm",
	"qwertzuiop", "azertyuiop", "1qaz2wsx3edc4rfv5tgb",
}

// passwordContext is the account data a password must not contain.
type passwordContext struct {
	role        policy.Role
	email       string
	displayName string
	issuer      string
}

// checkPassword applies the password rules and returns a *PasswordError
// naming the first rule broken.
//
// The rules apply to the password as typed; hashing uses its NFKC form.
func checkPassword(pw string, pc passwordContext) error {
	reject := func(format string, args ...any) error {
		return &PasswordError{Reason: fmt.Sprintf(format, args...)}
	}
	if !utf8.ValidString(pw) {
		return reject("password must be valid UTF-8 text")
	}
	n := utf8.RuneCountInString(pw)
	minLen := MinPasswordLength
	if pc.role.IsStaff() {
		minLen = MinStaffPasswordLength
	}
	switch {
	case n < minLen:
		return reject("password must be at least %d characters for a %s account", minLen, pc.role)
	case n > MaxPasswordLength:
		return reject("password must be at most %d characters", MaxPasswordLength)
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return reject("password must not contain control characters")
		}
	}
	lower := strings.ToLower(pw)
	if isCommonPassword(lower) {
		return reject("password is on the list of common or breached passwords; choose another")
	}
	if isRepetitive(lower) {
		return reject("password must not be a repeated or sequential run of characters")
	}
	if word := contextWord(lower, pc); word != "" {
		return reject("password must not contain %s", word)
	}
	return nil
}

// isCommonPassword reports whether the lower-cased password, or the
// password without up to six trailing digits, symbols and spaces, is on
// the list. Six covers a year and a symbol, as in "summer2024!".
func isCommonPassword(lower string) bool {
	list := commonPasswords()
	if _, ok := list[lower]; ok {
		return true
	}
	base := strings.TrimRightFunc(lower, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' '
	})
	if len(lower)-len(base) > maxStrippedSuffix || base == "" {
		return false
	}
	_, ok := list[base]
	return ok
}

// isRepetitive reports passwords made of fewer than four distinct
// characters, of a repeated pattern of up to four characters, or of one
// alphabetic, numeric or keyboard-row run.
func isRepetitive(lower string) bool {
	runes := []rune(lower)
	distinct := map[rune]struct{}{}
	for _, r := range runes {
		distinct[r] = struct{}{}
	}
	if len(distinct) < 4 {
		return true
	}
	for period := 1; period <= 4 && period < len(runes); period++ {
		repeated := true
		for i := period; i < len(runes); i++ {
			if runes[i] != runes[i-period] {
				repeated = false
				break
			}
		}
		if repeated {
			return true
		}
	}
	for _, run := range keyboardRuns {
		if isSubstringRun(lower, run) {
			return true
		}
	}
	return false
}

// isSubstringRun reports whether s is a substring of run, forwards or
// backwards, or of run repeated.
func isSubstringRun(s, run string) bool {
	doubled := run + run + run
	if strings.Contains(doubled, s) {
		return true
	}
	return strings.Contains(reverse(doubled), s)
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// contextWord returns a description of the account-specific word found in
// the password, or "".
func contextWord(lower string, pc passwordContext) string {
	if strings.Contains(lower, productName) {
		return "the product name"
	}
	if issuer := strings.ToLower(pc.issuer); len(issuer) >= 4 && strings.Contains(lower, issuer) {
		return "the server name"
	}
	if pc.email != "" {
		local, _, _ := strings.Cut(strings.ToLower(pc.email), "@")
		if strings.Contains(lower, strings.ToLower(pc.email)) ||
			(len(local) >= 4 && strings.Contains(lower, local)) {
			return "your email address"
		}
	}
	for _, word := range strings.FieldsFunc(strings.ToLower(pc.displayName), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if utf8.RuneCountInString(word) >= 4 && strings.Contains(lower, word) {
			return "your name"
		}
	}
	return ""
}
