package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// StoredTokens is the simplest Credentials: it hands out the access tokens the
// state store holds, as they are, and never refreshes one. It serves daemons
// whose tokens are put in place by other means (tests, a consent side that keeps
// them fresh in the store) and providers that need no token at all; the consent
// side's Credentials, which refreshes and rotates, replaces it in the daemon.
type StoredTokens struct {
	Store state.Store
	// Plugins, when set, is asked for a provider's OAuth spec: a provider that
	// signs for itself (GrantNone) gets an empty credential without a token.
	Plugins Plugins
	// Now is the clock that judges expiry (time.Now when nil).
	Now func() time.Time
}

var _ Credentials = (*StoredTokens)(nil)

// Calendar implements Credentials: the link's own token, else the calendar
// block's tenant-level one.
func (s *StoredTokens) Calendar(ctx context.Context, cal *config.Calendar, link *config.Link) (sdk.Credential, error) {
	for _, key := range []state.TokenKey{state.LinkToken(state.LinkID{Profile: link.Profile, Link: link.Name}), state.ConnectionToken(cal.Name)} {
		c, err := s.token(ctx, key)
		if !errors.Is(err, ErrNoConsent) {
			return c, err
		}
	}
	if s.signsItself(ctx, cal.Provider, cal.Name, sdk.PurposeUser) {
		return sdk.Credential{}, nil
	}
	return sdk.Credential{}, fmt.Errorf("calendar %s, link %s/%s: %w", cal.Name, link.Profile, link.Name, ErrNoConsent)
}

// SuperOffice implements Credentials: the tenant's system token or access token;
// nothing for onsite installations, which sign in with the configured password.
func (s *StoredTokens) SuperOffice(ctx context.Context, so *config.SuperOffice) (sdk.Credential, error) {
	if so.Onsite() {
		return sdk.Credential{}, nil
	}
	tok, err := s.Store.Token(ctx, state.ConnectionToken(so.Name))
	if errors.Is(err, state.ErrNotFound) {
		return sdk.Credential{}, fmt.Errorf("superoffice %s: %w", so.Name, ErrNoConsent)
	}
	if err != nil {
		return sdk.Credential{}, fmt.Errorf("read the token of superoffice %s: %w", so.Name, err)
	}
	if st := tok.Extra["system_token"]; st != "" {
		return sdk.Credential{Type: "system_token", Token: st}, nil
	}
	return s.bearer(state.ConnectionToken(so.Name), tok)
}

// Invalidate implements Credentials. A stored token cannot be renewed here; the
// next call hands out the same one and the run fails with the service's refusal.
func (s *StoredTokens) Invalidate(context.Context, sdk.Credential) {}

func (s *StoredTokens) token(ctx context.Context, key state.TokenKey) (sdk.Credential, error) {
	tok, err := s.Store.Token(ctx, key)
	if errors.Is(err, state.ErrNotFound) {
		return sdk.Credential{}, ErrNoConsent
	}
	if err != nil {
		return sdk.Credential{}, fmt.Errorf("read the token %s: %w", key, err)
	}
	return s.bearer(key, tok)
}

func (s *StoredTokens) bearer(key state.TokenKey, tok state.Token) (sdk.Credential, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if tok.AccessToken == "" {
		return sdk.Credential{}, fmt.Errorf("token %s: %w", key, ErrNoConsent)
	}
	if !tok.Expiry.IsZero() && !now().Before(tok.Expiry) {
		return sdk.Credential{}, fmt.Errorf("the access token %s expired at %s and cannot be refreshed here", key, tok.Expiry.UTC().Format(time.RFC3339))
	}
	return sdk.Credential{Type: "bearer", Token: tok.AccessToken}, nil
}

func (s *StoredTokens) signsItself(ctx context.Context, provider, instance string, purpose sdk.OAuthPurpose) bool {
	if s.Plugins == nil {
		return false
	}
	p, err := s.Plugins(provider)
	if err != nil {
		return false
	}
	spec, err := p.OAuth(ctx, sdk.OAuthRequest{Instance: instance, Purpose: purpose})
	return err == nil && spec.Grant == sdk.GrantNone
}
