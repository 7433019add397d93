package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// TOTP settings (RFC 6238). SHA-1, six digits and 30-second steps are what
// common authenticator apps support; one step of clock drift is accepted
// either way.
const (
	totpPeriod     = 30
	totpSkew       = 1
	totpSecretSize = 20 // bytes, the HMAC-SHA-1 block-size recommendation of RFC 4226
	totpDigits     = otp.DigitsSix
	qrImageSize    = 256 // pixels

	recoveryCodeCount = 10
	// recoveryCodeChars is the length of a recovery code in base32
	// characters without dashes: 16 characters carry 80 random bits.
	recoveryCodeChars = 16
)

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Enrollment is a started TOTP enrollment: the otpauth URI, the same
// secret for manual entry, and a QR code of the URI as a PNG image. It is
// shown once to the account holder.
type Enrollment struct {
	URI    string `json:"otpauth_uri"`
	Secret string `json:"secret"`
	QRPNG  []byte `json:"qr_png"`
}

// LogValue keeps the secret out of logs.
func (Enrollment) LogValue() slog.Value { return slog.StringValue("[redacted]") }

func totpLocation(accountID string) string        { return "accounts/" + accountID + "/totp" }
func totpPendingLocation(accountID string) string { return "accounts/" + accountID + "/totp-pending" }

func totpOptions() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Skew: totpSkew, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
}

// startEnrollment creates a new TOTP secret for the actor's account and
// keeps it sealed as pending until confirmEnrollment. Starting again
// replaces a pending secret. An account with a confirmed second factor
// fails with ErrAlreadyEnrolled.
func (s *Service) startEnrollment(ctx context.Context, actor policy.Actor) (Enrollment, error) {
	a, err := s.db.Account(actor.UserID)
	if err != nil {
		return Enrollment{}, mapStoreError(err)
	}
	if len(a.TOTPSeed) > 0 {
		return Enrollment{}, ErrAlreadyEnrolled
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.cfg.Issuer, AccountName: a.Email, Period: totpPeriod,
		SecretSize: totpSecretSize, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("generate TOTP key: %w", err)
	}
	img, err := key.Image(qrImageSize, qrImageSize)
	if err != nil {
		return Enrollment{}, fmt.Errorf("render TOTP QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return Enrollment{}, fmt.Errorf("encode TOTP QR code: %w", err)
	}
	sealed := s.sealer.Seal(totpPendingLocation(a.ID), []byte(key.Secret()))
	_, err = s.db.UpdateAccount(a.ID, func(acct *store.Account) error {
		if len(acct.TOTPSeed) > 0 {
			return ErrAlreadyEnrolled
		}
		acct.TOTPPending = sealed
		acct.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		return Enrollment{}, err
	}
	s.record(ctx, audit.Event{
		Type: "auth.totp.enroll", ActorID: a.ID, TargetID: a.ID, Outcome: audit.OutcomeSuccess,
		Detail: map[string]string{"step": "started"},
	})
	return Enrollment{URI: key.URL(), Secret: key.Secret(), QRPNG: qr.Bytes()}, nil
}

// confirmEnrollment checks a code from the pending secret, makes it the
// account's second factor, marks the actor's session as verified by it,
// and returns ten new recovery codes, shown this once.
func (s *Service) confirmEnrollment(ctx context.Context, actor policy.Actor, code string) ([]string, error) {
	codes, hashes := newRecoveryCodes()
	now := s.now()
	_, err := s.db.UpdateAccount(actor.UserID, func(acct *store.Account) error {
		if len(acct.TOTPSeed) > 0 {
			return ErrAlreadyEnrolled
		}
		if len(acct.TOTPPending) == 0 {
			return ErrNoEnrollment
		}
		secret, err := s.sealer.Open(totpPendingLocation(acct.ID), acct.TOTPPending)
		if err != nil {
			return fmt.Errorf("open pending TOTP secret: %w", err)
		}
		step, ok := matchTOTP(string(secret), normalizeCode(code), now, 0)
		if !ok {
			return ErrCodeInvalid
		}
		acct.TOTPSeed = s.sealer.Seal(totpLocation(acct.ID), secret)
		acct.TOTPPending = nil
		acct.TOTPLastStep = step
		acct.RecoveryHashes = hashes
		acct.UpdatedAt = now
		return nil
	})
	if err != nil {
		outcome := audit.OutcomeFailure
		s.record(ctx, audit.Event{
			Type: "auth.totp.enroll", ActorID: actor.UserID, TargetID: actor.UserID, Outcome: outcome,
			Detail: map[string]string{"step": "confirm", "reason": reasonOf(err)},
		})
		return nil, err
	}
	_, err = s.db.UpdateUserSession(actor.UserID, actor.SessionID, func(r *store.Session) error {
		r.SecondFactor = true
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("mark session as second-factor verified failed", "session", actor.SessionID, "err", err)
	}
	s.record(ctx, audit.Event{
		Type: "auth.totp.enroll", ActorID: actor.UserID, TargetID: actor.UserID,
		Outcome: audit.OutcomeSuccess, Detail: map[string]string{"step": "confirmed"},
	})
	return codes, nil
}

// useSecondFactor checks a TOTP or recovery code for the account and, when
// it is right, records its use: the TOTP step becomes the last accepted
// one, and a recovery code is deleted. It returns the updated account and
// "totp" or "recovery_code", or ErrCodeInvalid.
func (s *Service) useSecondFactor(accountID, code string) (*store.Account, string, error) {
	code = normalizeCode(code)
	now := s.now()
	method := "totp"
	a, err := s.db.UpdateAccount(accountID, func(acct *store.Account) error {
		if len(acct.TOTPSeed) == 0 {
			return ErrCodeInvalid
		}
		if len(code) == recoveryCodeChars {
			method = "recovery_code"
			return useRecoveryCode(acct, code)
		}
		secret, err := s.sealer.Open(totpLocation(acct.ID), acct.TOTPSeed)
		if err != nil {
			return fmt.Errorf("open TOTP secret: %w", err)
		}
		step, ok := matchTOTP(string(secret), code, now, acct.TOTPLastStep)
		if !ok {
			return ErrCodeInvalid
		}
		acct.TOTPLastStep = step
		return nil
	})
	return a, method, err
}

// matchTOTP returns the time step whose code equals code, among the steps
// within totpSkew of now that are later than lastStep. Excluding lastStep
// and earlier makes every code usable once.
func matchTOTP(secret, code string, now time.Time, lastStep uint64) (uint64, bool) {
	if len(code) != int(totpDigits) {
		return 0, false
	}
	current := uint64(now.Unix()) / totpPeriod
	for step := current - totpSkew; step <= current+totpSkew; step++ {
		if step <= lastStep {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(int64(step*totpPeriod), 0), totpOptions())
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// normalizeCode removes spaces and dashes and upper-cases a code, so
// "abcd-efgh ijkl-mnop" and "ABCDEFGHIJKLMNOP" are the same recovery code.
func normalizeCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	return strings.ToUpper(code)
}

// newRecoveryCodes returns ten codes formatted as XXXX-XXXX-XXXX-XXXX and
// their SHA-256 digests. 80 random bits make a fast hash sufficient.
func newRecoveryCodes() (codes []string, hashes [][]byte) {
	for range recoveryCodeCount {
		var b [10]byte
		rand.Read(b[:])
		raw := recoveryEncoding.EncodeToString(b[:])
		codes = append(codes, raw[0:4]+"-"+raw[4:8]+"-"+raw[8:12]+"-"+raw[12:16])
		sum := sha256.Sum256([]byte(raw))
		hashes = append(hashes, sum[:])
	}
	return codes, hashes
}

// useRecoveryCode deletes the matching recovery code from acct. Every
// stored digest is compared, in constant time, whether or not one matched.
func useRecoveryCode(acct *store.Account, code string) error {
	sum := sha256.Sum256([]byte(code))
	found := -1
	for i, h := range acct.RecoveryHashes {
		if subtle.ConstantTimeCompare(h, sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return ErrCodeInvalid
	}
	acct.RecoveryHashes = append(acct.RecoveryHashes[:found], acct.RecoveryHashes[found+1:]...)
	return nil
}

// reasonOf returns a short audit reason for an error of this package.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrCodeInvalid):
		return "invalid_code"
	case errors.Is(err, ErrAlreadyEnrolled):
		return "already_enrolled"
	case errors.Is(err, ErrNoEnrollment):
		return "no_enrollment"
	}
	return "error"
}
