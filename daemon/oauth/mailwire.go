package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/mail"
	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
)

// MailerFor builds the daemon's mailer from a configuration: an SMTPMailer with
// an smtp block, else the LogMailer that logs activation URLs. now and loc may
// be nil (system clock, local zone).
func MailerFor(cfg *config.Config, log *slog.Logger, now func() time.Time, loc *time.Location) (mail.Mailer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SMTP == nil {
		return mail.NewLogMailer(log), nil
	}
	var clock mail.Clock
	if now != nil {
		clock = mail.ClockFunc(now)
	}
	m, err := mail.NewSMTPMailer(mail.SMTPConfig{
		Address: cfg.SMTP.Address, From: cfg.SMTP.From, Admin: cfg.SMTP.Admin,
		Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
	}, mail.Options{Logger: log, Clock: clock, Location: loc, AdminLanguage: "en"})
	if err != nil {
		return nil, fmt.Errorf("smtp block: %w", err)
	}
	return m, nil
}

// currentMailer is a Mailer that always uses the mailer of the configuration in
// force, so the digest follows a reload that changes the smtp block.
type currentMailer struct{ s *Service }

func (c currentMailer) get() (mail.Mailer, error) { return c.s.mailer(c.s.opts.Config()) }

func (c currentMailer) Activation(ctx context.Context, a mail.Activation) error {
	m, err := c.get()
	if err != nil {
		return err
	}
	return m.Activation(ctx, a)
}

func (c currentMailer) ExpiredCredentials(ctx context.Context, a mail.Activation) error {
	m, err := c.get()
	if err != nil {
		return err
	}
	return m.ExpiredCredentials(ctx, a)
}

func (c currentMailer) Digest(ctx context.Context, d mail.Digest) error {
	m, err := c.get()
	if err != nil {
		return err
	}
	return m.Digest(ctx, d)
}

// digestKey is where the time of the last admin digest is kept: the state store
// has no general-purpose key, so it rides in the sealed token bucket, in a slot
// no link or connection can have (their keys start with link/ or connection/).
const digestKey state.TokenKey = "meta/last-digest"

// digestStore keeps the last digest's time in the state store.
type digestStore struct{ store state.Store }

func (d digestStore) LastDigest(ctx context.Context) (time.Time, error) {
	tok, err := d.store.Token(ctx, digestKey)
	if errors.Is(err, state.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return tok.Updated, nil
}

func (d digestStore) SetLastDigest(ctx context.Context, t time.Time) error {
	return d.store.PutToken(ctx, digestKey, state.Token{Updated: t})
}

// Digest builds the admin digest's scheduler: status is the agent's Status (the
// links' states as /v1/status shows them, unlicensed and disabled included).
// Call its Run with a ticker, e.g. every 10 minutes; it mails smtp.admin at most
// once per 12 hours while links need attention, and logs the list without smtp.
func (s *Service) Digest(status func(ctx context.Context) (web.Status, error)) (*mail.DigestScheduler, error) {
	if status == nil {
		return nil, errors.New("digest: a status function is required")
	}
	return mail.NewDigestScheduler(mail.DigestConfig{
		Mailer: currentMailer{s},
		Store:  digestStore{s.opts.Store},
		Clock:  mail.ClockFunc(s.now),
		Logger: s.log,
		Links: mail.LinkSourceFunc(func(ctx context.Context) ([]mail.LinkStatus, error) {
			return s.linkStatuses(ctx, status)
		}),
	})
}

// linkStatuses adapts the status to the digest: when each link entered its state
// comes from the store, as does when a pending activation expires.
func (s *Service) linkStatuses(ctx context.Context, status func(ctx context.Context) (web.Status, error)) ([]mail.LinkStatus, error) {
	st, err := status(ctx)
	if err != nil {
		return nil, err
	}
	var out []mail.LinkStatus
	for _, p := range st.Profiles {
		for _, l := range p.Links {
			ls := mail.LinkStatus{Profile: p.Name, Link: l.Name, Kind: mail.Kind(l.Kind), Mailbox: l.Mailbox,
				State: l.State, LastError: l.LastError}
			if l.Kind == string(config.KindResource) {
				ls.Name = l.Associate
			}
			if row, err := s.opts.Store.Link(ctx, state.LinkID{Profile: p.Name, Link: l.Name}); err == nil {
				ls.Since = row.Changed
				if secret := secretOf(row.ActivationURL); row.ActivationURL != "" && validToken(secret) {
					if a, err := s.opts.Store.Activation(ctx, secret, s.now()); err == nil {
						ls.ActivationExpires = a.Expires
					}
				}
			}
			out = append(out, ls)
		}
	}
	return out, nil
}
