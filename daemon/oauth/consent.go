package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"synchronizer/daemon/config"
	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
	"synchronizer/plugins/sdk"
)

// setupSecret is the store key of a block's open setup. The setup URL carries
// no secret (it is /setup/{name}); the row only records that an admin opened it,
// until when, and that it completes once.
func setupSecret(name string) string { return "setup:" + name }

// validToken accepts what state.NewSecret makes (base64url, 43 characters) and
// a little more, so nothing odd reaches the store.
func validToken(tok string) bool {
	if len(tok) < 22 || len(tok) > 128 {
		return false
	}
	for _, r := range tok {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (s *Service) randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// activationError maps the store's verdict on an activation to a page.
func activationError(err error, lang, purpose string) error {
	switch {
	case errors.Is(err, state.ErrNotFound):
		return &web.ConsentError{Kind: web.ErrConsentUnknown, Language: lang, Purpose: purpose, Err: err}
	case errors.Is(err, state.ErrActivationExpired):
		return &web.ConsentError{Kind: web.ErrConsentExpired, Language: lang, Purpose: purpose, Err: err}
	case errors.Is(err, state.ErrActivationUsed):
		return &web.ConsentError{Kind: web.ErrConsentUsed, Language: lang, Purpose: purpose, Err: err}
	}
	return &web.ConsentError{Kind: web.ErrConsentUnavailable, Language: lang, Purpose: purpose, Err: err}
}

// linkOfToken finds the configured link an activation token belongs to.
func (s *Service) linkOfToken(ctx context.Context, token string) (linkTarget, state.Activation, error) {
	if !validToken(token) {
		return linkTarget{}, state.Activation{}, &web.ConsentError{Kind: web.ErrConsentUnknown}
	}
	a, err := s.opts.Store.Activation(ctx, token, s.now())
	if err != nil {
		return linkTarget{}, state.Activation{}, s.logUnavailable(activationError(err, "", ""))
	}
	if a.Link == (state.LinkID{}) {
		return linkTarget{}, state.Activation{}, &web.ConsentError{Kind: web.ErrConsentUnknown}
	}
	t, err := s.resolveLink(a.Link.Profile, a.Link.Link)
	if err != nil {
		// The link left the configuration since the mail went out.
		return linkTarget{}, state.Activation{}, &web.ConsentError{Kind: web.ErrConsentUnknown, Err: err}
	}
	return t, a, nil
}

// ActivationPage implements web.ConsentFlow.
func (s *Service) ActivationPage(ctx context.Context, token string) (web.ConsentPage, error) {
	t, a, err := s.linkOfToken(ctx, token)
	if err != nil {
		return web.ConsentPage{}, err
	}
	page := web.ConsentPage{
		Language: t.profile.Language, Purpose: string(t.purpose()), Name: t.link.Name, Profile: t.profile.Name,
		System: systemName(t.cal.Provider), Account: t.link.Mailbox, Manager: t.managed(),
		Expires: a.Expires.In(s.loc), GoURL: s.publicURL(t.cfg) + "/activate/" + token + "/go",
	}
	if t.link.Kind == config.KindResource {
		page.Name = t.link.Associate
	}
	if t.managed() && t.cal.Admin != "" {
		page.Connected = t.cal.Admin
	}
	if row, err := s.opts.Store.Link(ctx, t.id()); err == nil && row.State == state.NeedsConsent {
		page.Reconnect = true
	}
	return page, nil
}

// StartActivation implements web.ConsentFlow.
func (s *Service) StartActivation(ctx context.Context, token, loginHint string) (web.ConsentStart, error) {
	t, _, err := s.linkOfToken(ctx, token)
	if err != nil {
		return web.ConsentStart{}, err
	}
	lang := t.profile.Language
	retry := s.publicURL(t.cfg) + "/activate/" + token
	if loginHint == "" {
		loginHint = t.loginHint()
	}
	f := &flow{secret: token, link: t.id(), purpose: t.purpose(), provider: t.cal.Provider, instance: t.cal.Name,
		lang: lang, retry: retry}
	return s.start(ctx, t.cfg, f, t.cal.PluginSettings(), loginHint)
}

// openSetup finds the block of an open setup.
func (s *Service) openSetup(ctx context.Context, name string) (blockTarget, state.Activation, error) {
	b, err := s.resolveBlock(name)
	if err != nil {
		return blockTarget{}, state.Activation{}, &web.ConsentError{Kind: web.ErrConsentSetupClosed, Purpose: web.PurposeAdmin, Err: err}
	}
	a, err := s.opts.Store.Activation(ctx, setupSecret(name), s.now())
	switch {
	case errors.Is(err, state.ErrNotFound), errors.Is(err, state.ErrActivationExpired):
		return blockTarget{}, state.Activation{}, &web.ConsentError{Kind: web.ErrConsentSetupClosed, Purpose: web.PurposeAdmin, Name: name, Err: err}
	case err != nil:
		return blockTarget{}, state.Activation{}, s.logUnavailable(activationError(err, "", web.PurposeAdmin))
	}
	return b, a, nil
}

// SetupPage implements web.ConsentFlow.
func (s *Service) SetupPage(ctx context.Context, name string) (web.ConsentPage, error) {
	b, a, err := s.openSetup(ctx, name)
	if err != nil {
		return web.ConsentPage{}, err
	}
	spec, err := s.flowSpec(ctx, b.provider, name, b.settings, sdk.PurposeAdmin, "", s.redirectURL(b.cfg))
	if err != nil {
		return web.ConsentPage{}, err
	}
	if spec.Grant != sdk.GrantAuthorizationCode && spec.Grant != sdk.GrantAdminConsent {
		return web.ConsentPage{}, &web.ConsentError{Kind: web.ErrConsentNotNeeded, Purpose: web.PurposeAdmin}
	}
	page := web.ConsentPage{Purpose: web.PurposeAdmin, Name: name, System: systemName(b.provider), Account: b.adminHint(),
		Expires: a.Expires.In(s.loc), GoURL: s.publicURL(b.cfg) + "/setup/" + url.PathEscape(name) + "/go"}
	if tok, err := s.opts.Store.Token(ctx, state.ConnectionToken(name)); err == nil {
		page.Connected = tok.Account
	}
	return page, nil
}

// StartSetup implements web.ConsentFlow.
func (s *Service) StartSetup(ctx context.Context, name, loginHint string) (web.ConsentStart, error) {
	b, _, err := s.openSetup(ctx, name)
	if err != nil {
		return web.ConsentStart{}, err
	}
	if loginHint == "" {
		loginHint = b.adminHint()
	}
	f := &flow{secret: setupSecret(name), setup: name, purpose: sdk.PurposeAdmin, provider: b.provider, instance: name,
		retry: s.publicURL(b.cfg) + "/setup/" + url.PathEscape(name)}
	return s.start(ctx, b.cfg, f, b.settings, loginHint)
}

// flowSpec asks the provider how this sign-in goes.
func (s *Service) flowSpec(ctx context.Context, provider, instance string, settings map[string]string, purpose sdk.OAuthPurpose, hint, redirect string) (sdk.OAuthSpec, error) {
	p, err := s.provider(ctx, provider, instance, settings)
	if err != nil {
		return sdk.OAuthSpec{}, s.logUnavailable(&web.ConsentError{Kind: web.ErrConsentUnavailable, Err: err})
	}
	spec, err := p.OAuth(ctx, sdk.OAuthRequest{Instance: instance, Purpose: purpose, LoginHint: hint, RedirectURL: redirect})
	if err != nil {
		return sdk.OAuthSpec{}, s.logUnavailable(&web.ConsentError{Kind: web.ErrConsentUnavailable, Err: fmt.Errorf("ask %s how %s signs in: %w", provider, instance, err)})
	}
	return spec, nil
}

// logUnavailable logs a failure on the daemon's side before it becomes a page,
// so that it is never silent; the page says only that something went wrong.
func (s *Service) logUnavailable(err error) error {
	var ce *web.ConsentError
	if errors.As(err, &ce) && (ce.Kind == web.ErrConsentUnavailable || ce.Kind == web.ErrConsentInternal) {
		s.log.Error("consent page failed", "err", ce.Err)
	}
	return err
}

// start builds the provider's sign-in URL for f and remembers f under a fresh state.
func (s *Service) start(ctx context.Context, cfg *config.Config, f *flow, settings map[string]string, hint string) (web.ConsentStart, error) {
	fail := func(kind web.ConsentErrorKind, err error) error {
		return s.logUnavailable(&web.ConsentError{Kind: kind, Language: f.lang, Purpose: string(f.purpose), Retry: f.retry, Err: err})
	}
	redirect := s.redirectURL(cfg)
	spec, err := s.flowSpec(ctx, f.provider, f.instance, settings, f.purpose, hint, redirect)
	if err != nil {
		var ce *web.ConsentError
		if errors.As(err, &ce) {
			ce.Language, ce.Purpose, ce.Retry = f.lang, string(f.purpose), f.retry
		}
		return web.ConsentStart{}, err
	}
	if spec.Grant != sdk.GrantAuthorizationCode && spec.Grant != sdk.GrantAdminConsent {
		return web.ConsentStart{}, fail(web.ErrConsentNotNeeded, fmt.Errorf("%s %s signs in with grant %q", f.provider, f.instance, spec.Grant))
	}
	if spec.AuthURL == "" || (spec.Grant == sdk.GrantAuthorizationCode || spec.Grant == sdk.GrantAdminConsent) && spec.TokenURL == "" {
		return web.ConsentStart{}, fail(web.ErrConsentUnavailable, fmt.Errorf("%s %s gave no authorization or token URL", f.provider, f.instance))
	}
	stateValue, err := s.randomString(32)
	if err != nil {
		return web.ConsentStart{}, fail(web.ErrConsentInternal, err)
	}
	binding, err := s.randomString(32)
	if err != nil {
		return web.ConsentStart{}, fail(web.ErrConsentInternal, err)
	}
	f.created, f.spec, f.redirect = s.now(), spec, redirect
	f.binding = sha256.Sum256([]byte(binding))

	var authURL string
	if spec.Grant == sdk.GrantAdminConsent {
		// The admin-consent page takes no response_type and returns no code.
		u, err := url.Parse(spec.AuthURL)
		if err != nil {
			return web.ConsentStart{}, fail(web.ErrConsentUnavailable, fmt.Errorf("admin consent URL of %s: %w", f.instance, err))
		}
		q := u.Query()
		for k, v := range spec.Params {
			q.Set(k, v)
		}
		q.Set("client_id", spec.ClientID)
		q.Set("redirect_uri", redirect)
		q.Set("state", stateValue)
		if len(spec.Scopes) > 0 {
			q.Set("scope", strings.Join(spec.Scopes, " "))
		}
		u.RawQuery = q.Encode()
		authURL = u.String()
	} else {
		var opts []oauth2.AuthCodeOption
		for k, v := range spec.Params {
			if k == "login_hint" && hint != "" {
				continue
			}
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
		if hint != "" {
			opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
		}
		if spec.PKCE {
			if f.verifier, err = s.randomString(48); err != nil {
				return web.ConsentStart{}, fail(web.ErrConsentInternal, err)
			}
			opts = append(opts, oauth2.S256ChallengeOption(f.verifier))
		}
		authURL = oauthConfig(spec, redirect).AuthCodeURL(stateValue, opts...)
	}
	s.flows.put(stateValue, f, f.created)
	s.log.Info("sign-in started", flowAttrs(f)...)
	return web.ConsentStart{AuthURL: authURL, State: stateValue, Binding: binding,
		CookiePath: s.publicPath(cfg) + "/oauth/callback", Secure: strings.HasPrefix(s.publicURL(cfg), "https://"),
		MaxAge: s.flows.ttl}, nil
}

func flowAttrs(f *flow) []any {
	if f.setup != "" {
		return []any{"connection", f.setup, "provider", f.provider}
	}
	return []any{"profile", f.link.Profile, "link", f.link.Link, "provider", f.provider}
}

// deniedErrors are the OAuth error codes that mean the person said no or did
// not finish signing in.
var deniedErrors = map[string]bool{"access_denied": true, "consent_required": true, "interaction_required": true,
	"login_required": true, "account_selection_required": true, "user_cancelled": true}

// Finish implements web.ConsentFlow.
func (s *Service) Finish(ctx context.Context, params url.Values, binding string) (web.ConsentDone, error) {
	st := params.Get("state")
	if st == "" || len(st) > 256 {
		return web.ConsentDone{}, &web.ConsentError{Kind: web.ErrConsentState, Err: errors.New("callback without a usable state")}
	}
	f, ok := s.flows.take(st, binding, s.now())
	if f == nil {
		s.log.Warn("sign-in callback with an unknown, expired or used state")
		return web.ConsentDone{}, &web.ConsentError{Kind: web.ErrConsentState, Err: errors.New("unknown, expired or used state")}
	}
	fail := func(kind web.ConsentErrorKind, err error) error {
		ce := &web.ConsentError{Kind: kind, Language: f.lang, Purpose: string(f.purpose), Retry: f.retry, Err: err}
		s.log.Warn("sign-in failed", append(flowAttrs(f), "reason", kind.String(), "err", err)...)
		return ce
	}
	if !ok {
		return web.ConsentDone{}, fail(web.ErrConsentState, errors.New("the callback came to a browser that did not start the sign-in"))
	}
	if code := params.Get("error"); code != "" {
		desc := clip(params.Get("error_description"), 500)
		err := fmt.Errorf("the provider answered %s: %s", clip(code, 64), desc)
		if deniedErrors[code] {
			return web.ConsentDone{}, fail(web.ErrConsentDenied, err)
		}
		ce := fail(web.ErrConsentProvider, err).(*web.ConsentError)
		ce.Detail = strings.TrimSpace(clip(code, 64) + ": " + desc)
		return web.ConsentDone{}, ce
	}
	// The activation must still be usable now, and the link or block still configured.
	if _, err := s.opts.Store.Activation(ctx, f.secret, s.now()); err != nil {
		ce := activationError(err, f.lang, string(f.purpose)).(*web.ConsentError)
		if f.setup != "" && (ce.Kind == web.ErrConsentUnknown || ce.Kind == web.ErrConsentExpired) {
			ce.Kind, ce.Name = web.ErrConsentSetupClosed, f.setup
		}
		s.log.Warn("sign-in failed", append(flowAttrs(f), "reason", ce.Kind.String(), "err", err)...)
		return web.ConsentDone{}, ce
	}
	var (
		lt  linkTarget
		bt  blockTarget
		err error
	)
	if f.setup != "" {
		bt, err = s.resolveBlock(f.setup)
		if err == nil && bt.provider != f.provider {
			err = fmt.Errorf("block %s changed provider during the sign-in", f.setup)
		}
	} else {
		lt, err = s.resolveLink(f.link.Profile, f.link.Link)
		if err == nil && (lt.cal.Provider != f.provider || lt.cal.Name != f.instance) {
			err = fmt.Errorf("link %s changed calendar during the sign-in", f.link)
		}
	}
	if err != nil {
		return web.ConsentDone{}, fail(web.ErrConsentUnknown, err)
	}
	prov, err := s.opts.Providers.Provider(ctx, f.provider)
	if err != nil {
		return web.ConsentDone{}, fail(web.ErrConsentUnavailable, err)
	}

	// Tokens.
	var fresh *oauth2.Token
	switch f.spec.Grant {
	case sdk.GrantAdminConsent:
		if !strings.EqualFold(params.Get("admin_consent"), "true") {
			return web.ConsentDone{}, fail(web.ErrConsentDenied, errors.New("the admin-consent page did not report consent"))
		}
		cc := clientcredentials.Config{ClientID: f.spec.ClientID, ClientSecret: f.spec.ClientSecret, TokenURL: f.spec.TokenURL,
			Scopes: f.spec.Scopes, AuthStyle: authStyle(f.spec)}
		fresh, err = cc.Token(s.ctxHTTP(ctx))
	default:
		code := params.Get("code")
		if code == "" {
			return web.ConsentDone{}, fail(web.ErrConsentProvider, errors.New("the provider came back without a code"))
		}
		var opts []oauth2.AuthCodeOption
		if f.verifier != "" {
			opts = append(opts, oauth2.VerifierOption(f.verifier))
		}
		fresh, err = oauthConfig(f.spec, f.redirect).Exchange(s.ctxHTTP(ctx), code, opts...)
	}
	if err != nil {
		err = tokenError(fmt.Sprintf("%s %s: token request", f.provider, f.instance), err)
		return web.ConsentDone{}, fail(web.ErrConsentTokenExchange, err)
	}
	if fresh.AccessToken == "" {
		return web.ConsentDone{}, fail(web.ErrConsentTokenExchange, errors.New("the token endpoint answered without an access token"))
	}

	// Who signed in, and may they?
	info := tokenInfo(fresh)
	acct, err := prov.Identify(ctx, sdk.Target{Instance: f.instance}, info)
	if err != nil {
		if errors.Is(err, sdk.ErrPermissionDenied) {
			ce := fail(web.ErrConsentDenied, err).(*web.ConsentError)
			ce.Detail = clip(err.Error(), 300)
			return web.ConsentDone{}, ce
		}
		return web.ConsentDone{}, fail(web.ErrConsentProvider, fmt.Errorf("identify the account: %w", err))
	}
	who := acct.Email
	if who == "" {
		who = acct.ID
	}
	var key state.TokenKey
	tok := state.Token{AccessToken: fresh.AccessToken, RefreshToken: fresh.RefreshToken, TokenType: fresh.Type(),
		Expiry: s.expiryOf(fresh), Scope: info.Scope, Account: who, Updated: s.now()}
	done := web.ConsentDone{Language: f.lang, Purpose: string(f.purpose), Account: who}
	if f.setup != "" {
		if !acct.IsAdmin {
			ce := fail(web.ErrConsentNotAdmin, fmt.Errorf("%s is not an administrator", who)).(*web.ConsentError)
			ce.Account = who
			return web.ConsentDone{}, ce
		}
		key = state.ConnectionToken(f.setup)
		if bt.so != nil {
			// The SuperOffice system user works with its system token alone: the
			// admin's own tokens are not kept.
			st := acct.Extra[extraSystemToken]
			if st == "" {
				return web.ConsentDone{}, fail(web.ErrConsentProvider, fmt.Errorf("the sign-in of %s yielded no system user token: is the application approved for the system user in the tenant?", who))
			}
			tok = state.Token{Account: who, Extra: map[string]string{extraSystemToken: st}, Updated: s.now()}
		} else if f.spec.Grant == sdk.GrantAdminConsent {
			// Application tokens are minted when needed; the row records the consent.
			tok = state.Token{Account: who, Updated: s.now()}
		}
		done.Name, done.System = f.setup, systemName(bt.provider)
	} else {
		expected := lt.link.Mailbox
		if !s.isLinkedAccount(ctx, prov, lt, acct, fresh.AccessToken) {
			if lt.managed() {
				ce := fail(web.ErrConsentNotAdmin, fmt.Errorf("%s cannot manage the calendar %s", who, expected)).(*web.ConsentError)
				ce.Account = who
				return web.ConsentDone{}, ce
			}
			ce := fail(web.ErrConsentWrongAccount, fmt.Errorf("%s signed in, the link is for %s", who, expected)).(*web.ConsentError)
			ce.Account, ce.Expected = who, expected
			return web.ConsentDone{}, ce
		}
		key = state.LinkToken(lt.id())
		done.Name, done.Profile, done.System = lt.link.Name, lt.profile.Name, systemName(lt.cal.Provider)
		if lt.link.Kind == config.KindResource {
			done.Name = lt.link.Associate
		}
	}

	if tok.AccessToken != "" && tok.RefreshToken == "" && !tok.Expiry.IsZero() {
		// Without a refresh token the access would end within the hour.
		return web.ConsentDone{}, fail(web.ErrConsentTokenExchange, errors.New("the token endpoint gave no refresh token (was offline access granted?)"))
	}

	// Commit: the activation first (exactly one callback wins), then the token,
	// then the link's state.
	if _, err := s.opts.Store.ConsumeActivation(ctx, f.secret, s.now()); err != nil {
		ce := activationError(err, f.lang, string(f.purpose)).(*web.ConsentError)
		s.log.Warn("sign-in failed", append(flowAttrs(f), "reason", ce.Kind.String(), "err", err)...)
		return web.ConsentDone{}, ce
	}
	err = s.withSource(context.WithoutCancel(ctx), key, func(src *source) error {
		if err := s.opts.Store.PutToken(ctx, key, tok); err != nil {
			return err
		}
		src.reset()
		return nil
	})
	if err != nil {
		return web.ConsentDone{}, fail(web.ErrConsentUnavailable, fmt.Errorf("store the token: %w", err))
	}
	if f.setup != "" {
		s.log.Info("tenant-level access granted", "connection", f.setup, "provider", f.provider, "account", who)
		if s.opts.OnConnected != nil {
			s.opts.OnConnected(ctx, f.setup)
		}
		return done, nil
	}
	id := lt.id()
	if _, err := s.opts.Store.UpdateLink(ctx, id, func(l *state.Link) error {
		l.State, l.ActivationURL, l.LastError = state.Active, "", ""
		return nil
	}); err != nil {
		s.log.Error("the link consented but its state could not be stored; the next run sets it", "profile", id.Profile, "link", id.Link, "err", err)
	}
	s.mu.Lock()
	delete(s.unmailed, id)
	s.mu.Unlock()
	s.log.Info("link activated", "profile", id.Profile, "link", id.Link, "provider", f.provider, "account", who)
	if s.opts.OnActivated != nil {
		s.opts.OnActivated(ctx, id)
	}
	return done, nil
}

// isLinkedAccount says whether acct may consent for the link: it is the linked
// mailbox (compared without case, by address or id, or as the provider's
// directory resolves the mailbox), or, for a calendar reached through an account
// that manages it, an admin who can see that calendar.
func (s *Service) isLinkedAccount(ctx context.Context, prov sdk.Provider, t linkTarget, acct sdk.Account, access string) bool {
	mailbox := t.link.Mailbox
	if sameAccount(acct.Email, mailbox) || sameAccount(acct.ID, mailbox) {
		return true
	}
	target := sdk.Target{Instance: t.cal.Name, Credential: sdk.Credential{Type: "bearer", Token: access}}
	kind := sdk.AccountUser
	if t.link.Kind == config.KindResource {
		kind = sdk.AccountResource
	}
	if t.managed() {
		if !acct.IsAdmin {
			return false
		}
		target.Account = acct.Email
		found, err := prov.LookupAccount(ctx, target, kind, mailbox)
		if err != nil {
			s.log.Info("the admin cannot reach the resource calendar", "profile", t.profile.Name, "link", t.link.Name, "err", err)
			return false
		}
		return sameAccount(found.Email, mailbox) || sameAccount(found.ID, mailbox)
	}
	// An alias or a user principal name: the directory says whose mailbox it is.
	found, err := prov.LookupAccount(ctx, target, kind, mailbox)
	if err != nil {
		return false
	}
	return found.ID != "" && (sameAccount(found.ID, acct.ID) || sameAccount(found.Email, acct.Email))
}
