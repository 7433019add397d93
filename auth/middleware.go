package auth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

// tokenQueryNames are query parameters that commonly carry credentials.
// A request with any of them is rejected, because URLs end up in logs,
// browser history and Referer headers.
var tokenQueryNames = []string{"access_token", "token", "session", "bearer", "authorization", "auth"}

// Middleware authenticates the bearer token in the Authorization header,
// when there is one, and stores the Actor in the request context with
// policy.WithActor. A request without the header continues anonymous. A
// request with a malformed, unknown or expired token, or with more than one
// Authorization header, gets 401 and stops here. A request that carries a
// token in its query string, percent-encoded or not, gets 400, whatever its
// Authorization header contains.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tokenInURL(r) {
			api.WriteError(w, r, s.log, api.BadRequest("token_in_url",
				"credentials must not appear in the URL; send the session token in the Authorization header"))
			return
		}
		values := r.Header.Values("Authorization")
		if len(values) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if len(values) > 1 {
			// Proxies and servers disagree on which of several headers
			// counts, so none does.
			api.WriteError(w, r, s.log, toAPIError(w, ErrSessionInvalid))
			return
		}
		header := values[0]
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			api.WriteError(w, r, s.log, toAPIError(w, ErrSessionInvalid))
			return
		}
		actor, err := s.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			if !errors.Is(err, ErrSessionInvalid) {
				s.log.Error("authenticate request failed", "route", r.Pattern, "err", err)
			}
			api.WriteError(w, r, s.log, toAPIError(w, ErrSessionInvalid))
			return
		}
		next.ServeHTTP(w, r.WithContext(policy.WithActor(r.Context(), actor)))
	})
}

// tokenInURL reports whether the query string contains a token of this
// package, also percent-encoded, or a parameter named in tokenQueryNames.
func tokenInURL(r *http.Request) bool {
	raw := r.URL.RawQuery
	if raw == "" {
		return false
	}
	if looksLikeToken(raw) {
		return true
	}
	if decoded, err := url.QueryUnescape(raw); err == nil && looksLikeToken(decoded) {
		return true
	}
	for name, values := range r.URL.Query() {
		if looksLikeToken(name) || slices.ContainsFunc(values, looksLikeToken) {
			return true
		}
		for _, bad := range tokenQueryNames {
			if strings.EqualFold(name, bad) {
				return true
			}
		}
	}
	return false
}

// RequireActor returns the authenticated Actor of the request, ready to
// reach health data: it fails with api.Unauthorized when the request has
// no valid session, and with 403 second_factor_required for a staff
// session that has not presented a second factor. Use it in every handler
// outside the sign-in and enrollment endpoints; policy checks come after.
func RequireActor(r *http.Request) (policy.Actor, error) {
	a, err := RequireSession(r)
	if err != nil {
		return a, err
	}
	if !SecondFactorSatisfied(a) {
		return policy.Actor{}, toAPIError(nil, ErrSecondFactorRequired)
	}
	return a, nil
}

// RequireSession returns the authenticated Actor of the request whatever
// its second-factor state, or api.Unauthorized. Only endpoints a staff
// member needs before enrolling a second factor use it: /me, TOTP
// enrollment, the session list and sign-out.
func RequireSession(r *http.Request) (policy.Actor, error) {
	a, ok := policy.ActorFrom(r.Context())
	if !ok {
		return policy.Actor{}, api.Unauthorized()
	}
	return a, nil
}

// authorizeSelf returns the Actor of the request when the access policy
// grants action on the actor's own account: account.read-self and
// account.update-self, which every signed-in role may use, staff also
// before enrolling a second factor. An anonymous request gets
// api.Unauthorized.
func authorizeSelf(r *http.Request, action policy.Action) (policy.Actor, error) {
	a, _ := policy.ActorFrom(r.Context())
	if err := policy.Decide(a, action, policy.Account(a.UserID), policy.RelOwner).Err(); err != nil {
		return policy.Actor{}, err
	}
	return a, nil
}

// RequireAdmin returns the Actor when the access policy lets it manage
// accounts (policy.ActionAccountManage): an administrator with a second
// factor. The account administration routes act on the collection of all
// accounts, so every other role gets the same 403 whatever the id in the
// path, and no id is looked up before the decision.
func RequireAdmin(r *http.Request) (policy.Actor, error) {
	a, _ := policy.ActorFrom(r.Context())
	res := policy.Resource{Kind: policy.KindAccount, ID: r.PathValue("id")}
	if err := policy.Decide(a, policy.ActionAccountManage, res, policy.RelNone).Err(); err != nil {
		return policy.Actor{}, err
	}
	return a, nil
}
