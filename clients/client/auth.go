package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Account is the signed-in account as the server describes it.
type Account struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	DisplayName  string `json:"display_name"`
	Role         string `json:"role"`
	Status       string `json:"status"`
	SecondFactor bool   `json:"second_factor"`
}

// Credentials are the email, password and optional second factor that
// Login sends. Give TOTPCode or RecoveryCode when the account has a second
// factor.
type Credentials struct {
	Email        string
	Password     string
	TOTPCode     string
	RecoveryCode string
}

// LoginResult describes a successful sign-in.
type LoginResult struct {
	Account Account
	// EnrollmentRequired is set for a staff account without a second
	// factor: its session may only enroll TOTP.
	EnrollmentRequired bool
	ExpiresAt          time.Time
}

type loginAnswer struct {
	SecondFactorRequired bool   `json:"second_factor_required"`
	Challenge            string `json:"challenge"`
	Session              *struct {
		Token     string    `json:"token"`
		ID        string    `json:"id"`
		ExpiresAt time.Time `json:"expires_at"`
	} `json:"session"`
	Account            *Account `json:"account"`
	EnrollmentRequired bool     `json:"second_factor_enrollment_required"`
}

// Login signs in with a password and, when the account has one, a second
// factor. It stores the session token in the state file. Signing in as
// another account than the state directory's is rejected, because the
// keys and the trust store belong to that account.
func (c *Client) Login(ctx context.Context, cred Credentials) (*LoginResult, error) {
	var first loginAnswer
	err := c.doJSON(ctx, request{method: "POST", path: "/api/v1/auth/login", noAuth: true,
		body: map[string]string{"email": cred.Email, "password": cred.Password}}, &first)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	answer := first
	if first.SecondFactorRequired {
		code := cred.TOTPCode
		if code == "" {
			code = cred.RecoveryCode
		}
		if code == "" {
			return nil, fmt.Errorf("login: %w: give a TOTP code or a recovery code", ErrSecondFactorRequired)
		}
		answer = loginAnswer{}
		err := c.doJSON(ctx, request{method: "POST", path: "/api/v1/auth/login/second-factor", noAuth: true,
			body: map[string]string{"challenge": first.Challenge, "code": code}}, &answer)
		if err != nil {
			return nil, fmt.Errorf("login second factor: %w", err)
		}
	}
	if answer.Session == nil || answer.Account == nil {
		return nil, errors.New("login: the server's response has no session or account; check --server")
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.UserID != "" && c.st.UserID != answer.Account.ID {
		return nil, fmt.Errorf("login: this state directory belongs to account %s (%s): use another --state-dir",
			c.st.UserID, c.st.Email)
	}
	c.st.Server = c.base.String()
	c.st.UserID, c.st.Email, c.st.Role = answer.Account.ID, answer.Account.Email, answer.Account.Role
	c.st.Session = &session{Token: answer.Session.Token, ID: answer.Session.ID, ExpiresAt: answer.Session.ExpiresAt}
	if err := c.saveLocked(); err != nil {
		return nil, err
	}
	return &LoginResult{Account: *answer.Account, EnrollmentRequired: answer.EnrollmentRequired,
		ExpiresAt: answer.Session.ExpiresAt}, nil
}

// Logout ends the session on the server and forgets the token.
func (c *Client) Logout(ctx context.Context) error {
	err := c.doJSON(ctx, request{method: "POST", path: "/api/v1/auth/logout"}, nil)
	if err != nil && !errors.Is(err, ErrAuthRequired) {
		return fmt.Errorf("logout: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Session = nil
	return c.saveLocked()
}

// Me returns the signed-in account.
func (c *Client) Me(ctx context.Context) (*Account, error) {
	var out struct {
		Account Account `json:"account"`
	}
	if err := c.doJSON(ctx, request{method: "GET", path: "/api/v1/me"}, &out); err != nil {
		return nil, fmt.Errorf("me: %w", err)
	}
	return &out.Account, nil
}
