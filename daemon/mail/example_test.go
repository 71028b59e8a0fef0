package mail_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"synchronizer/daemon/mail"
)

// mailerFor is how the daemon picks its Mailer at start-up: SMTP when the config has
// an smtp block, the logging one otherwise, so the rest of the daemon never checks.
func mailerFor(smtpBlock *mail.SMTPConfig, log *slog.Logger) (mail.Mailer, error) {
	if smtpBlock == nil {
		return mail.NewLogMailer(log), nil
	}
	return mail.NewSMTPMailer(*smtpBlock, mail.Options{Logger: log, AdminLanguage: "en"})
}

func ExampleNewSMTPMailer() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := mailerFor(&mail.SMTPConfig{
		Address:  "smtp.example.com:587",
		From:     "Synchronizer <sync@example.com>",
		Admin:    "it-ops@example.com",
		Username: "sync",
		Password: os.Getenv("SMTP_PASSWORD"),
	}, log)
	if err != nil {
		log.Error("smtp block", slog.String("error", err.Error()))
		return
	}
	err = m.Activation(context.Background(), mail.Activation{
		Profile:  "acme-365",
		Link:     "jane",
		Kind:     mail.KindUser,
		Name:     "Jane Doe",
		Mailbox:  "jane@acme.example",
		Provider: mail.ProviderM365,
		URL:      "https://sync.example.com/activate/TOKEN",
		Expires:  time.Now().Add(7 * 24 * time.Hour),
		Language: "de",
		Message:  "Fragen? Helpdesk 1234.",
	})
	if err != nil {
		log.Error("activation mail", slog.String("error", err.Error()))
	}
}

// lastDigest is where a daemon would adapt its state store.
type lastDigest struct{ t time.Time }

func (s *lastDigest) LastDigest(context.Context) (time.Time, error) { return s.t, nil }
func (s *lastDigest) SetLastDigest(_ context.Context, t time.Time) error {
	s.t = t
	return nil
}

// The digest scheduler runs for the daemon's life; it asks for the links on every
// tick and mails the admin when something needs attention, at most every 12 hours.
func ExampleDigestScheduler() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := mail.NewDigestScheduler(mail.DigestConfig{
		Mailer: mail.NewLogMailer(nil),
		Store:  &lastDigest{},
		Links: mail.LinkSourceFunc(func(context.Context) ([]mail.LinkStatus, error) {
			return []mail.LinkStatus{{Profile: "acme-365", Link: "jane", State: mail.StateNeedsConsent}}, nil
		}),
	})
	if err != nil {
		return
	}
	ticker := time.NewTicker(10 * time.Minute)
	defer ticker.Stop()
	go s.Run(ctx, ticker.C)
}
