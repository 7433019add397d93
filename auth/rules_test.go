package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/bedside-health/bedside/policy"
)

func TestPasswordRules(t *testing.T) {
	pc := passwordContext{role: policy.RolePatient, email: "maria.lopez@example.org", displayName: "Maria Lopez", issuer: "Northside Clinic"}
	staff := pc
	staff.role = policy.RoleNurse
	tests := []struct {
		name string
		pw   string
		pc   passwordContext
		ok   bool
	}{
		{"long passphrase", "correct horse battery", pc, true},
		{"eight characters", "tr0ub4dor", pc, true},
		{"unicode passphrase", "ñandú volador 🐦 azul", pc, true},
		{"seven characters", "k9#mQ2z", pc, false},
		{"staff eleven characters", "k9#mQ2zP!x4", staff, false},
		{"staff twelve characters", "k9#mQ2zP!x4w", staff, true},
		{"too long", strings.Repeat("ab1", 50), pc, false},
		{"common", "password", pc, false},
		{"common with suffix", "Sunshine2024!", pc, false},
		{"common upper case", "LETMEIN123", pc, false},
		{"common with long suffix", "sunshine2024!!xyz", pc, true},
		{"repeated character", "aaaaaaaaaaaa", pc, false},
		{"repeated pattern", "abcabcabcabc", pc, false},
		{"few distinct", "ababbbaaabab", pc, false},
		{"alphabetic run", "defghijklmno", pc, false},
		{"numeric run", "3456789012", pc, false},
		{"descending run", "987654321098", pc, false},
		{"keyboard row", "qwertyuiop", pc, false},
		{"email local part", "maria.lopez!!x", pc, false},
		{"name word", "lopez family 77", pc, false},
		{"product name", "my bedside pass", pc, false},
		{"server name", "northside clinic pw", pc, false},
		{"control character", "line\nbreak pass", pc, false},
		{"invalid utf-8", "abc\xffdefghij", pc, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPassword(tt.pw, tt.pc)
			if got := err == nil; got != tt.ok {
				t.Fatalf("checkPassword(%q): got %v, want ok %v", tt.pw, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrWeakPassword) {
				t.Fatalf("got %v, want an error wrapping ErrWeakPassword", err)
			}
		})
	}
}

func TestCommonPasswordListLoaded(t *testing.T) {
	if n := len(commonPasswords()); n < 400 {
		t.Fatalf("got %d common passwords, want at least 400", n)
	}
	for pw := range commonPasswords() {
		if pw != strings.ToLower(strings.TrimSpace(pw)) {
			t.Fatalf("list entry %q is not lower case and trimmed", pw)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{" Pat@Example.ORG ", "pat@example.org", true},
		{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org", true},
		{"no-at-sign", "", false},
		{"pat@localhost", "", false},
		{"Pat <pat@example.org>", "", false},
		{"pat@example.org.", "", false},
		{"@example.org", "", false},
		{strings.Repeat("a", 250) + "@example.org", "", false},
		{"pat@exa mple.org", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeEmail(%q): got %q, %v; want %q ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"Pat@Example.org", " a.b+c@d.example ", "Pat <p@x.org>", "@", "a@b.c."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		if len(got) > maxEmailLength {
			t.Fatalf("accepted %d bytes, want at most %d", len(got), maxEmailLength)
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("normalising %q twice: got %q, %v; want %q", s, again, err, got)
		}
	})
}

func FuzzParseToken(f *testing.F) {
	token, _ := newToken(prefixSession)
	f.Add(token)
	f.Add(prefixSession + strings.Repeat("A", 43))
	f.Add("bss_")
	f.Fuzz(func(t *testing.T, s string) {
		digest, ok := parseToken(prefixSession, s)
		if !ok {
			return
		}
		if len(s) != tokenLength || !strings.HasPrefix(s, prefixSession) {
			t.Fatalf("accepted %q, want only %d-character tokens with prefix %s", s, tokenLength, prefixSession)
		}
		if !looksLikeToken(s) {
			t.Fatalf("accepted token %q is not recognised by looksLikeToken", s)
		}
		if string(digest) != string(hashToken(s)) {
			t.Fatal("digest differs from hashToken")
		}
	})
}
