package oauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"synchronizer/daemon/config"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// expirySkew: an access token this close to its expiry is refreshed first, so it
// cannot run out in the middle of a sync run.
const expirySkew = 2 * time.Minute

// Backoff after a refresh that failed for a passing reason (network, 5xx): the
// token endpoint is asked again only after this long, doubling up to the maximum.
const (
	minRefreshBackoff = 2 * time.Second
	maxRefreshBackoff = 5 * time.Minute
)

// extraNeedsConsent marks a stored link token whose grant died and whose owner
// was mailed: no token request is made for it again, and NeedsConsent does not
// mail twice. A new consent replaces the token and with it the mark.
const extraNeedsConsent = "needs_consent_since"

// extraSystemToken is the SuperOffice system user's token in a connection's Extra.
const extraSystemToken = "system_token"

// tokenExtras are the token response fields kept for Identify and the store
// (x/oauth2 does not list a response's fields, so they are named here).
var tokenExtras = []string{"id_token", "scope", "refresh_token_expires_in", "ext_expires_in", "account", "tenant", "user_id"}

// source is one token the host holds: a link's or a connection's, refreshed
// from its refresh token, or minted by client credentials. One refresh at a time:
// callers wait for the one in flight and share its result.
type source struct {
	key  string
	lock chan struct{}

	tok       *state.Token // nil until loaded from the store (or minted)
	invalid   string       // an access token a service refused; never handed out again
	revoked   error        // the grant is gone: answered without asking anyone
	failures  int
	failUntil time.Time
	failErr   error
	dirty     bool // a refreshed token not yet persisted
}

func (s *Service) source(key string) *source {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.sources[key]
	if src == nil {
		src = &source{key: key, lock: make(chan struct{}, 1)}
		s.sources[key] = src
	}
	return src
}

func (src *source) acquire(ctx context.Context) error {
	select {
	case src.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the token of %s: %w", src.key, ctx.Err())
	}
}

func (src *source) release() { <-src.lock }

// reset forgets everything cached; the next call reads the store again.
func (src *source) reset() {
	src.tok, src.invalid, src.revoked = nil, "", nil
	src.failures, src.failUntil, src.failErr, src.dirty = 0, time.Time{}, nil, false
}

// withSource runs fn holding the source's lock.
func (s *Service) withSource(ctx context.Context, key state.TokenKey, fn func(src *source) error) error {
	src := s.source(string(key))
	if err := src.acquire(ctx); err != nil {
		return err
	}
	defer src.release()
	return fn(src)
}

func (s *Service) usable(tok *state.Token, invalid string) bool {
	if tok == nil || tok.AccessToken == "" || tok.AccessToken == invalid {
		return false
	}
	return tok.Expiry.IsZero() || s.now().Add(expirySkew).Before(tok.Expiry)
}

func (s *Service) ctxHTTP(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.http)
}

func authStyle(spec sdk.OAuthSpec) oauth2.AuthStyle {
	if spec.AuthInHeader {
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleInParams
}

func oauthConfig(spec sdk.OAuthSpec, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: spec.ClientID, ClientSecret: spec.ClientSecret, RedirectURL: redirect, Scopes: spec.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: spec.AuthURL, TokenURL: spec.TokenURL, AuthStyle: authStyle(spec)}}
}

// tokenError describes a token endpoint's refusal without anything secret:
// x/oauth2's own message may quote the response body.
func tokenError(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code := re.ErrorCode
		if code == "" {
			code = "no error code"
		}
		desc := ""
		if re.ErrorDescription != "" {
			desc = ": " + clip(re.ErrorDescription, 300)
		}
		base := fmt.Errorf("%s: the token endpoint answered HTTP %d (%s%s)", what, status, code, desc)
		if re.ErrorCode == "invalid_grant" {
			return fmt.Errorf("%w: the grant was revoked or has expired; the account must sign in again: %w", base, sdk.ErrConsentRevoked)
		}
		return base
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	// Transport errors name the token URL, which holds nothing secret.
	return fmt.Errorf("%s: %w", what, err)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// stored returns the access token of a stored grant, refreshing it when needed.
func (s *Service) stored(ctx context.Context, key state.TokenKey, spec sdk.OAuthSpec) (state.Token, error) {
	src := s.source(string(key))
	if err := src.acquire(ctx); err != nil {
		return state.Token{}, err
	}
	defer src.release()
	if src.tok == nil {
		tok, err := s.opts.Store.Token(ctx, key)
		if errors.Is(err, state.ErrNotFound) {
			return state.Token{}, fmt.Errorf("%s: %w", key, runner.ErrNoConsent)
		}
		if err != nil {
			return state.Token{}, fmt.Errorf("read the token of %s: %w", key, err)
		}
		src.tok = &tok
	}
	if since := src.tok.Extra[extraNeedsConsent]; since != "" {
		return state.Token{}, fmt.Errorf("%s lost its consent at %s and waits for a new sign-in: %w", key, since, sdk.ErrConsentRevoked)
	}
	if src.revoked != nil {
		return state.Token{}, src.revoked
	}
	if src.dirty {
		s.persist(ctx, key, src)
	}
	if src.tok.Extra[extraSystemToken] != "" || s.usable(src.tok, src.invalid) {
		return *src.tok, nil
	}
	if src.tok.RefreshToken == "" {
		return state.Token{}, fmt.Errorf("the access token of %s has expired and there is no refresh token: %w", key, sdk.ErrConsentRevoked)
	}
	if s.now().Before(src.failUntil) {
		return state.Token{}, fmt.Errorf("%w (next attempt after %s)", src.failErr, src.failUntil.Sub(s.now()).Round(time.Second))
	}
	conf := oauthConfig(spec, "")
	old := &oauth2.Token{RefreshToken: src.tok.RefreshToken, Expiry: s.now().Add(-time.Hour)}
	fresh, err := conf.TokenSource(s.ctxHTTP(ctx), old).Token()
	if err != nil {
		err = tokenError(fmt.Sprintf("refresh the token of %s", key), err)
		switch {
		case errors.Is(err, sdk.ErrConsentRevoked):
			src.revoked = err
			s.log.Warn("a grant was revoked or has expired", "token", string(key), "err", err)
		case ctx.Err() == nil:
			src.failures++
			wait := min(minRefreshBackoff<<min(src.failures-1, 16), maxRefreshBackoff)
			src.failUntil, src.failErr = s.now().Add(wait), err
			s.log.Warn("token refresh failed", "token", string(key), "retry_in", wait, "err", err)
		}
		return state.Token{}, err
	}
	rotated := fresh.RefreshToken != "" && fresh.RefreshToken != src.tok.RefreshToken
	next := *src.tok
	next.AccessToken = fresh.AccessToken
	next.TokenType = fresh.Type()
	next.Expiry = s.expiryOf(fresh)
	if fresh.RefreshToken != "" {
		next.RefreshToken = fresh.RefreshToken
	}
	if sc, ok := fresh.Extra("scope").(string); ok && sc != "" {
		next.Scope = sc
	}
	next.Updated = s.now()
	src.tok, src.invalid, src.failures, src.failUntil, src.failErr = &next, "", 0, time.Time{}, nil
	src.dirty = true
	s.persist(ctx, key, src)
	s.log.Debug("token refreshed", "token", string(key), "rotated", rotated, "expires", next.Expiry)
	return next, nil
}

// persist writes a refreshed token; a failure leaves it dirty for the next call
// (a rotated refresh token must not be lost).
func (s *Service) persist(ctx context.Context, key state.TokenKey, src *source) {
	if err := s.opts.Store.PutToken(ctx, key, *src.tok); err != nil {
		s.log.Error("cannot store a refreshed token; will retry", "token", string(key), "err", err)
		return
	}
	src.dirty = false
}

// client returns a client-credentials token of a connection, minting one when
// needed. Nothing is stored: a new one costs one request.
func (s *Service) client(ctx context.Context, name string, spec sdk.OAuthSpec) (state.Token, error) {
	src := s.source("client/" + name)
	if err := src.acquire(ctx); err != nil {
		return state.Token{}, err
	}
	defer src.release()
	if s.usable(src.tok, src.invalid) {
		return *src.tok, nil
	}
	if s.now().Before(src.failUntil) {
		return state.Token{}, fmt.Errorf("%w (next attempt after %s)", src.failErr, src.failUntil.Sub(s.now()).Round(time.Second))
	}
	cc := clientcredentials.Config{ClientID: spec.ClientID, ClientSecret: spec.ClientSecret, TokenURL: spec.TokenURL,
		Scopes: spec.Scopes, AuthStyle: authStyle(spec)}
	fresh, err := cc.Token(s.ctxHTTP(ctx))
	if err != nil {
		err = tokenError(fmt.Sprintf("get an application token for %s", name), err)
		if ctx.Err() == nil {
			src.failures++
			wait := min(minRefreshBackoff<<min(src.failures-1, 16), maxRefreshBackoff)
			src.failUntil, src.failErr = s.now().Add(wait), err
			s.log.Warn("application token request failed", "connection", name, "retry_in", wait, "err", err)
		}
		return state.Token{}, err
	}
	tok := state.Token{AccessToken: fresh.AccessToken, TokenType: fresh.Type(), Expiry: s.expiryOf(fresh), Updated: s.now()}
	src.tok, src.invalid, src.failures, src.failUntil, src.failErr = &tok, "", 0, time.Time{}, nil
	return tok, nil
}

// expiryOf is when a fresh token expires on the service's clock: x/oauth2
// counts expires_in from the wall clock, which tests (and a skewed host) do not share.
func (s *Service) expiryOf(t *oauth2.Token) time.Time {
	var secs float64
	switch v := t.Extra("expires_in").(type) {
	case float64:
		secs = v
	case string:
		secs, _ = strconv.ParseFloat(v, 64)
	}
	if secs > 0 {
		return s.now().Add(time.Duration(secs) * time.Second)
	}
	return t.Expiry
}

func bearer(tok state.Token) sdk.Credential {
	return sdk.Credential{Type: "bearer", Token: tok.AccessToken}
}

// Calendar implements runner.Credentials.
func (s *Service) Calendar(ctx context.Context, cal *config.Calendar, link *config.Link) (sdk.Credential, error) {
	purpose := sdk.PurposeUser
	if link.Kind == config.KindResource {
		purpose = sdk.PurposeResource
	}
	settings := cal.PluginSettings()
	spec, err := s.cachedSpec(ctx, cal.Provider, cal.Name, settings, purpose)
	if err != nil {
		return sdk.Credential{}, err
	}
	switch spec.Grant {
	case sdk.GrantNone:
		return sdk.Credential{}, nil
	case sdk.GrantClientCredentials, sdk.GrantAdminConsent:
		tok, err := s.client(ctx, cal.Name, spec)
		if err != nil {
			return sdk.Credential{}, err
		}
		return bearer(tok), nil
	case sdk.GrantAuthorizationCode:
	default:
		return sdk.Credential{}, fmt.Errorf("calendar %s: the provider asks for grant %q, which this daemon does not know", cal.Name, spec.Grant)
	}
	id := state.LinkID{Profile: link.Profile, Link: link.Name}
	tok, err := s.stored(ctx, state.LinkToken(id), spec)
	if err == nil {
		return bearer(tok), nil
	}
	if !errors.Is(err, runner.ErrNoConsent) || link.Kind != config.KindResource {
		return sdk.Credential{}, err
	}
	// A resource without its own consent goes through the calendar's admin
	// connection, when an admin set one up.
	adminSpec, aerr := s.cachedSpec(ctx, cal.Provider, cal.Name, settings, sdk.PurposeAdmin)
	if aerr != nil || adminSpec.Grant != sdk.GrantAuthorizationCode {
		return sdk.Credential{}, err
	}
	ctok, cerr := s.stored(ctx, state.ConnectionToken(cal.Name), adminSpec)
	if errors.Is(cerr, runner.ErrNoConsent) {
		return sdk.Credential{}, err
	}
	if cerr != nil {
		return sdk.Credential{}, fmt.Errorf("resource %s/%s through the admin connection of %s: %w", link.Profile, link.Name, cal.Name, cerr)
	}
	return bearer(ctok), nil
}

// SuperOffice implements runner.Credentials.
func (s *Service) SuperOffice(ctx context.Context, so *config.SuperOffice) (sdk.Credential, error) {
	spec, err := s.cachedSpec(ctx, config.ProviderSuperOffice, so.Name, so.PluginSettings(), sdk.PurposeAdmin)
	if err != nil {
		return sdk.Credential{}, err
	}
	switch spec.Grant {
	case sdk.GrantNone:
		return sdk.Credential{}, nil
	case sdk.GrantClientCredentials, sdk.GrantAdminConsent:
		tok, err := s.client(ctx, so.Name, spec)
		if err != nil {
			return sdk.Credential{}, err
		}
		return bearer(tok), nil
	}
	tok, err := s.stored(ctx, state.ConnectionToken(so.Name), spec)
	if err != nil {
		return sdk.Credential{}, err
	}
	if st := tok.Extra[extraSystemToken]; st != "" {
		return sdk.Credential{Type: "system_token", Token: st}, nil
	}
	return bearer(tok), nil
}

// Invalidate implements runner.Credentials: the access token cred was refused,
// so the next call refreshes (or mints) a new one instead.
func (s *Service) Invalidate(ctx context.Context, cred sdk.Credential) {
	if cred.Type != "bearer" || cred.Token == "" {
		return // a system token is renewed by its provider; nothing else expires here
	}
	s.mu.Lock()
	srcs := make([]*source, 0, len(s.sources))
	for _, src := range s.sources {
		srcs = append(srcs, src)
	}
	s.mu.Unlock()
	for _, src := range srcs {
		if src.acquire(ctx) != nil {
			return
		}
		if src.tok != nil && src.tok.AccessToken == cred.Token {
			src.invalid = cred.Token
			src.failUntil = time.Time{}
		}
		src.release()
	}
}

// tokenInfo is what Identify may see of a fresh token: never the refresh token.
func tokenInfo(t *oauth2.Token) sdk.TokenInfo {
	info := sdk.TokenInfo{AccessToken: t.AccessToken, Expiry: t.Expiry, Extra: map[string]string{}}
	for _, k := range tokenExtras {
		switch v := t.Extra(k).(type) {
		case string:
			if v != "" {
				info.Extra[k] = v
			}
		case float64:
			info.Extra[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	info.IDToken = info.Extra["id_token"]
	info.Scope = info.Extra["scope"]
	delete(info.Extra, "id_token")
	delete(info.Extra, "scope")
	return info
}
