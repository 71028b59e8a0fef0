package mail

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"time"
)

// Transport delivers a finished message. *Sender is the SMTP one.
type Transport interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// Options are the SMTPMailer's dependencies and presentation settings; every field
// has a working default.
type Options struct {
	// Logger receives one line per mail sent (recipient, profile, link — never the
	// URL or the body); failures are returned, not logged. nil discards.
	Logger *slog.Logger
	// Clock stamps the Date header; nil is the system clock.
	Clock Clock
	// Random supplies Message-IDs and MIME boundaries; nil is crypto/rand.
	Random io.Reader
	// Location is the time zone dates are shown in; nil is the host's local zone.
	Location *time.Location
	// AdminLanguage is the digest's language (a digest spans profiles); "" is en.
	AdminLanguage string
	// Transport overrides the SMTP sender built from the config (tests, or a relay
	// of the caller's own); nil sends over SMTP.
	Transport Transport
}

// SMTPMailer renders mails and sends them over SMTP. It is safe for concurrent use.
type SMTPMailer struct {
	from      *mail.Address
	admin     *mail.Address // nil: the digest is only logged
	transport Transport
	tmpl      *templates
	log       *slog.Logger
	clock     Clock
	random    io.Reader
	loc       *time.Location
	adminLang string
	fallback  *LogMailer // logs the digest when no admin address is configured
}

var _ Mailer = (*SMTPMailer)(nil)

// NewSMTPMailer checks cfg and builds a mailer. It does no I/O: a server that is down
// shows up on the first send.
func NewSMTPMailer(cfg SMTPConfig, opts Options) (*SMTPMailer, error) {
	from, err := parseMailbox("smtp from", cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp from: %w", err)
	}
	var admin *mail.Address
	if cfg.Admin != "" {
		if admin, err = parseMailbox("smtp admin", cfg.Admin); err != nil {
			return nil, fmt.Errorf("smtp admin: %w", err)
		}
	}
	transport := opts.Transport
	if transport == nil {
		s, err := NewSender(cfg)
		if err != nil {
			return nil, err
		}
		transport = s
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	m := &SMTPMailer{
		from:      from,
		admin:     admin,
		transport: transport,
		tmpl:      tmpl,
		log:       opts.Logger,
		clock:     opts.Clock,
		random:    opts.Random,
		loc:       opts.Location,
		adminLang: opts.AdminLanguage,
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.clock == nil {
		m.clock = SystemClock{}
	}
	if m.random == nil {
		m.random = rand.Reader
	}
	if m.loc == nil {
		m.loc = time.Local
	}
	m.fallback = NewLogMailer(m.log)
	return m, nil
}

// Activation sends the welcome mail for a link.
func (m *SMTPMailer) Activation(ctx context.Context, a Activation) error {
	return m.sendAccount(ctx, a, false)
}

// ExpiredCredentials sends the "sign in again" mail for a link.
func (m *SMTPMailer) ExpiredCredentials(ctx context.Context, a Activation) error {
	return m.sendAccount(ctx, a, true)
}

func (m *SMTPMailer) sendAccount(ctx context.Context, a Activation, expired bool) error {
	what := accountKind(expired)
	// Failures are returned, not logged: the caller knows what to do about them.
	fail := func(err error) error {
		return fmt.Errorf("%s for %s/%s: %w", what, a.Profile, a.Link, err)
	}
	to, err := parseMailbox("recipient", a.recipient())
	if err != nil {
		return fail(err)
	}
	if to.Name == "" && a.To == "" && a.Kind != KindResource {
		to.Name = a.Name
	}
	r, err := m.tmpl.renderAccount(a, expired, m.loc)
	if err != nil {
		return fail(err)
	}
	if err := m.send(ctx, to, r); err != nil {
		return fail(err)
	}
	m.log.Info(what+" sent", slog.String("profile", a.Profile), slog.String("link", a.Link),
		slog.String("to", to.Address), slog.String("language", r.Lang))
	return nil
}

// Digest sends d to the admin address, or logs it when none is configured.
func (m *SMTPMailer) Digest(ctx context.Context, d Digest) error {
	if m.admin == nil {
		return m.fallback.Digest(ctx, d)
	}
	if d.At.IsZero() {
		d.At = m.clock.Now()
	}
	r, err := m.tmpl.renderDigest(d, m.adminLang, m.loc)
	if err != nil {
		return fmt.Errorf("admin digest: %w", err)
	}
	if err := m.send(ctx, m.admin, r); err != nil {
		return fmt.Errorf("admin digest to %s: %w", m.admin.Address, err)
	}
	m.log.Info("admin digest sent", slog.String("to", m.admin.Address), slog.Int("links", len(d.Links)))
	return nil
}

func (m *SMTPMailer) send(ctx context.Context, to *mail.Address, r rendered) error {
	msg, err := message{
		From:    m.from,
		To:      to,
		Subject: r.Subject,
		Lang:    r.Lang,
		Date:    m.clock.Now().In(m.loc),
		Text:    r.Text,
		HTML:    r.HTML,
	}.encode(m.random)
	if err != nil {
		return err
	}
	return m.transport.Send(ctx, m.from.Address, []string{to.Address}, msg)
}
