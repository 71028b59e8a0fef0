package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/mail"
	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// mailJob is a mail that could not be sent; the next Ensure/NeedsConsent of the
// link sends it again while its activation is valid.
type mailJob struct {
	expired bool // the expired-credentials mail rather than the welcome mail
}

// ActivationResult is what issuing an activation link gives the admin.
type ActivationResult struct {
	Profile string    `json:"profile"`
	Link    string    `json:"link"`
	State   string    `json:"state"`
	URL     string    `json:"activation_url"`
	Expires time.Time `json:"expires"`
	// Mailed says a mail with the URL went out (false without an smtp block: the
	// URL is then logged); MailedTo is its recipient; MailError why it failed.
	Mailed    bool   `json:"mailed"`
	MailedTo  string `json:"mailed_to,omitempty"`
	MailError string `json:"mail_error,omitempty"`
}

// SetupResult is what opening a setup gives the admin.
type SetupResult struct {
	Name     string    `json:"name"`
	Provider string    `json:"provider"`
	URL      string    `json:"setup_url"`
	Expires  time.Time `json:"expires"`
	// Connected is the account of the connection in place, "" when none.
	Connected string `json:"connected_as,omitempty"`
}

// secretOf returns the secret at the end of an activation URL.
func secretOf(activationURL string) string {
	u, err := url.Parse(activationURL)
	if err != nil {
		return ""
	}
	p := strings.TrimRight(u.Path, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

func (s *Service) activationURL(cfg *config.Config, secret string) string {
	return s.publicURL(cfg) + "/activate/" + secret
}

// needsActivation refuses links whose calendar is reached without the
// account's own consent.
func (s *Service) needsActivation(ctx context.Context, t linkTarget) error {
	spec, err := s.cachedSpec(ctx, t.cal.Provider, t.cal.Name, t.cal.PluginSettings(), t.purpose())
	if err != nil {
		return err
	}
	if spec.Grant != sdk.GrantAuthorizationCode {
		return fmt.Errorf("link %s of profile %s: its calendar %s is reached with tenant-level access (%s), so nobody signs in for it: %w",
			t.link.Name, t.profile.Name, t.cal.Name, spec.Grant, ErrNotNeeded)
	}
	return nil
}

// current returns the link's activation URL if its activation is still usable,
// rebuilt on the public URL in force.
func (s *Service) current(ctx context.Context, t linkTarget, row state.Link) (string, time.Time, bool) {
	if row.ActivationURL == "" {
		return "", time.Time{}, false
	}
	secret := secretOf(row.ActivationURL)
	if !validToken(secret) {
		return "", time.Time{}, false
	}
	a, err := s.opts.Store.Activation(ctx, secret, s.now())
	if err != nil || a.Link != t.id() {
		return "", time.Time{}, false
	}
	u := s.activationURL(t.cfg, secret)
	if u != row.ActivationURL {
		if _, err := s.opts.Store.UpdateLink(ctx, t.id(), func(l *state.Link) error { l.ActivationURL = u; return nil }); err != nil {
			s.log.Warn("cannot store the activation URL on the new public_url", "profile", t.profile.Name, "link", t.link.Name, "err", err)
		}
	}
	return u, a.Expires, true
}

// issue replaces the link's activations with a new one and records its URL.
func (s *Service) issue(ctx context.Context, t linkTarget, needsConsent bool) (string, time.Time, error) {
	id := t.id()
	secret, err := s.randomString(32)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	expires := now.Add(s.ttl)
	if err := s.opts.Store.RevokeActivations(ctx, id, ""); err != nil {
		return "", time.Time{}, fmt.Errorf("revoke the old activation of %s: %w", id, err)
	}
	if err := s.opts.Store.PutActivation(ctx, secret, state.Activation{Purpose: string(t.purpose()), Link: id, Created: now, Expires: expires}); err != nil {
		return "", time.Time{}, fmt.Errorf("store the activation of %s: %w", id, err)
	}
	u := s.activationURL(t.cfg, secret)
	if _, err := s.opts.Store.UpdateLink(ctx, id, func(l *state.Link) error {
		l.ActivationURL = u
		if needsConsent {
			l.State = state.NeedsConsent
		} else if l.State == "" {
			l.State = state.PendingActivation
		}
		return nil
	}); err != nil {
		return "", time.Time{}, fmt.Errorf("store the activation URL of %s: %w", id, err)
	}
	return u, expires, nil
}

// Ensure implements runner.Activations: the link's activation URL, issuing one
// (and mailing it) when there is none. An activation that expired unused is
// replaced without a second mail; `synchronizer activate -resend` mails again.
func (s *Service) Ensure(ctx context.Context, profile *config.Profile, link *config.Link) (string, error) {
	t, err := s.resolveLink(profile.Name, link.Name)
	if err != nil {
		return "", err
	}
	if err := s.needsActivation(ctx, t); err != nil {
		return "", err
	}
	row, err := s.opts.Store.Link(ctx, t.id())
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return "", fmt.Errorf("read link %s: %w", t.id(), err)
	}
	if u, exp, ok := s.current(ctx, t, row); ok {
		s.retryMail(ctx, t, u, exp)
		return u, nil
	}
	first := row.ActivationURL == ""
	u, exp, err := s.issue(ctx, t, false)
	if err != nil {
		return "", err
	}
	if !first {
		s.log.Info("the activation link expired unused; issued a new one without mailing it (synchronizer activate -resend mails it)",
			"profile", t.profile.Name, "link", t.link.Name)
		return u, nil
	}
	s.send(ctx, t, u, exp, false)
	return u, nil
}

// NeedsConsent implements runner.Activations: the link's grant died. It issues
// a new activation and sends the expired-credentials mail, once per loss: the
// stored token is marked, so later calls (and restarts) neither mail again nor
// ask the token endpoint.
func (s *Service) NeedsConsent(ctx context.Context, profile *config.Profile, link *config.Link) (string, error) {
	t, err := s.resolveLink(profile.Name, link.Name)
	if err != nil {
		return "", err
	}
	key := state.LinkToken(t.id())
	var url string
	err = s.withSource(ctx, key, func(src *source) error {
		tok, err := s.opts.Store.Token(ctx, key)
		if errors.Is(err, state.ErrNotFound) {
			return errNeverConsented
		}
		if err != nil {
			return fmt.Errorf("read the token of %s: %w", t.id(), err)
		}
		row, err := s.opts.Store.Link(ctx, t.id())
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("read link %s: %w", t.id(), err)
		}
		if tok.Extra[extraNeedsConsent] != "" {
			// Already handled: keep a usable link at hand, quietly.
			u, exp, ok := s.current(ctx, t, row)
			if !ok {
				if u, _, err = s.issue(ctx, t, true); err != nil {
					return err
				}
			} else {
				s.retryMail(ctx, t, u, exp)
			}
			url = u
			return nil
		}
		u, exp, err := s.issue(ctx, t, true)
		if err != nil {
			return err
		}
		if tok.Extra == nil {
			tok.Extra = map[string]string{}
		}
		tok.Extra[extraNeedsConsent] = s.now().UTC().Format(time.RFC3339)
		if err := s.opts.Store.PutToken(ctx, key, tok); err != nil {
			return fmt.Errorf("mark the token of %s: %w", t.id(), err)
		}
		src.reset()
		s.log.Warn("link needs a new sign-in", "profile", t.profile.Name, "link", t.link.Name)
		s.send(ctx, t, u, exp, true)
		url = u
		return nil
	})
	if errors.Is(err, errNeverConsented) {
		return s.Ensure(ctx, profile, link)
	}
	return url, err
}

var errNeverConsented = errors.New("never consented")

// IssueActivation is the admin's `synchronizer activate PROFILE LINK [-resend]`:
// without resend it returns the current activation URL (issuing and mailing one
// when there is none); with resend it replaces the activation and mails it again.
// An active link is refused (ErrActive) unless resend asks for a new sign-in.
func (s *Service) IssueActivation(ctx context.Context, profile, link string, resend bool) (ActivationResult, error) {
	t, err := s.resolveLink(profile, link)
	if err != nil {
		return ActivationResult{}, err
	}
	if err := s.needsActivation(ctx, t); err != nil {
		return ActivationResult{}, err
	}
	id := t.id()
	row, err := s.opts.Store.Link(ctx, id)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return ActivationResult{}, fmt.Errorf("read link %s: %w", id, err)
	}
	res := ActivationResult{Profile: profile, Link: link, State: string(row.State)}
	if !resend {
		if row.State == state.Active {
			return res, fmt.Errorf("link %s of profile %s is active; pass -resend to ask for a new sign-in anyway: %w", link, profile, ErrActive)
		}
		if u, exp, ok := s.current(ctx, t, row); ok {
			res.URL, res.Expires = u, exp
			return res, nil
		}
	}
	needsConsent := row.State == state.NeedsConsent
	u, exp, err := s.issue(ctx, t, needsConsent)
	if err != nil {
		return ActivationResult{}, err
	}
	res.URL, res.Expires = u, exp
	if row, err := s.opts.Store.Link(ctx, id); err == nil {
		res.State = string(row.State)
	}
	res.MailedTo, res.Mailed, err = s.send(ctx, t, u, exp, needsConsent)
	if err != nil {
		res.MailError = err.Error()
	}
	return res, nil
}

// OpenSetup is the admin's `synchronizer connect NAME`: it opens the block's
// setup page for the activation lifetime and returns its URL.
func (s *Service) OpenSetup(ctx context.Context, name string) (SetupResult, error) {
	b, err := s.resolveBlock(name)
	if err != nil {
		return SetupResult{}, err
	}
	if b.cal != nil && b.cal.Provider == config.ProviderM365 && b.cal.Auth != "application" {
		return SetupResult{}, fmt.Errorf("calendar %s uses delegated auth: each mailbox signs in through its own activation link (set auth = \"application\" for tenant-wide access): %w", name, ErrNotNeeded)
	}
	spec, err := s.cachedSpec(ctx, b.provider, name, b.settings, sdk.PurposeAdmin)
	if err != nil {
		return SetupResult{}, err
	}
	if spec.Grant != sdk.GrantAuthorizationCode && spec.Grant != sdk.GrantAdminConsent {
		return SetupResult{}, fmt.Errorf("%s gets its access from its configuration (grant %s), so no admin signs in for it: %w", name, spec.Grant, ErrNotNeeded)
	}
	now := s.now()
	a := state.Activation{Purpose: string(sdk.PurposeAdmin), Connection: name, Created: now, Expires: now.Add(s.ttl)}
	if err := s.opts.Store.PutActivation(ctx, setupSecret(name), a); err != nil {
		return SetupResult{}, fmt.Errorf("open the setup of %s: %w", name, err)
	}
	res := SetupResult{Name: name, Provider: b.provider, URL: s.publicURL(b.cfg) + "/setup/" + url.PathEscape(name), Expires: a.Expires}
	if tok, err := s.opts.Store.Token(ctx, state.ConnectionToken(name)); err == nil {
		res.Connected = tok.Account
	}
	s.log.Info("setup opened", "connection", name, "provider", b.provider, "expires", a.Expires)
	return res, nil
}

// ---- mail ----

// mailFor builds the mail of a link's activation.
func (s *Service) mailFor(t linkTarget, u string, exp time.Time) mail.Activation {
	a := mail.Activation{
		Profile: t.profile.Name, Link: t.link.Name, Kind: mail.KindUser, Mailbox: t.link.Mailbox,
		Provider: t.cal.Provider, Direction: mail.Direction(t.profile.Direction), URL: u, Expires: exp,
		Language: t.profile.Language, Message: t.profile.Message,
	}
	if t.link.Kind == config.KindResource {
		a.Kind, a.Name = mail.KindResource, t.link.Associate
	}
	if t.managed() {
		// A resource calendar id receives no mail: its manager does.
		a.To = t.cal.Admin
		if a.To == "" && t.cfg.SMTP != nil {
			a.To = t.cfg.SMTP.Admin
		}
	}
	return a
}

// send mails a link's activation URL. It reports the recipient, whether a mail
// went out, and why not; a failure is logged and retried by the next
// Ensure/NeedsConsent while the activation lasts.
func (s *Service) send(ctx context.Context, t linkTarget, u string, exp time.Time, expired bool) (string, bool, error) {
	m, err := s.mailer(t.cfg)
	if err != nil {
		s.log.Error("cannot build the mailer; the activation URL is in synchronizer status", "err", err)
		return "", false, err
	}
	a := s.mailFor(t, u, exp)
	if a.To == "" && t.managed() {
		err := fmt.Errorf("nobody to mail: resource calendar %s receives no mail; set admin in calendar %s or smtp.admin", t.link.Mailbox, t.cal.Name)
		s.log.Warn("activation not mailed", "profile", t.profile.Name, "link", t.link.Name, "err", err)
		return "", false, err
	}
	if expired {
		err = m.ExpiredCredentials(ctx, a)
	} else {
		err = m.Activation(ctx, a)
	}
	id := t.id()
	if err != nil {
		s.mu.Lock()
		s.unmailed[id] = mailJob{expired: expired}
		s.mu.Unlock()
		s.log.Warn("activation mail failed; will retry", "profile", id.Profile, "link", id.Link, "err", err)
		return "", false, err
	}
	s.mu.Lock()
	delete(s.unmailed, id)
	s.mu.Unlock()
	_, logOnly := m.(*mail.LogMailer)
	to := a.To
	if to == "" {
		to = a.Mailbox
	}
	if logOnly {
		return "", false, nil
	}
	return to, true, nil
}

// retryMail sends a mail that failed before, while its activation is valid.
func (s *Service) retryMail(ctx context.Context, t linkTarget, u string, exp time.Time) {
	s.mu.Lock()
	job, ok := s.unmailed[t.id()]
	s.mu.Unlock()
	if ok {
		s.send(ctx, t, u, exp, job.expired)
	}
}

// mailer is Options.Mailer, or one built from the smtp block in force.
func (s *Service) mailer(cfg *config.Config) (mail.Mailer, error) {
	if s.opts.Mailer != nil {
		return s.opts.Mailer, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.built != nil && sameSMTP(s.mailerSMTP, cfg.SMTP) {
		return s.built, nil
	}
	m, err := MailerFor(cfg, s.log, s.now, s.loc)
	if err != nil {
		return nil, err
	}
	s.built = m
	s.mailerSMTP = nil
	if cfg.SMTP != nil {
		c := *cfg.SMTP
		s.mailerSMTP = &c
	}
	return m, nil
}

func sameSMTP(a, b *config.SMTP) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
