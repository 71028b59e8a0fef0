package mail

import (
	"context"
	"log/slog"
)

// LogMailer is the Mailer without an smtp block: instead of mailing the activation URL
// it logs it, so the admin can pass it on (`synchronizer activate` shows it too), and
// it logs the digest as warnings. Logging the URL is deliberate: here the log is the
// only way it reaches anyone.
type LogMailer struct {
	log *slog.Logger
}

var _ Mailer = (*LogMailer)(nil)

// NewLogMailer returns a LogMailer writing to log (nil discards).
func NewLogMailer(log *slog.Logger) *LogMailer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LogMailer{log: log}
}

// Activation logs the activation URL of a link.
func (l *LogMailer) Activation(ctx context.Context, a Activation) error {
	l.logAccount(ctx, a, slog.LevelInfo, "activation mail not sent (no smtp block configured): give this activation URL to the account owner")
	return nil
}

// ExpiredCredentials logs that a link must sign in again, with its new activation URL.
func (l *LogMailer) ExpiredCredentials(ctx context.Context, a Activation) error {
	l.logAccount(ctx, a, slog.LevelWarn, "link must sign in again; expired-credentials mail not sent (no smtp block configured): give this activation URL to the account owner")
	return nil
}

func (l *LogMailer) logAccount(ctx context.Context, a Activation, level slog.Level, msg string) {
	attrs := []slog.Attr{
		slog.String("profile", a.Profile),
		slog.String("link", a.Link),
		slog.String("kind", string(kindOrUser(a.Kind))),
		slog.String("mailbox", a.Mailbox),
		slog.String("activation_url", a.URL),
	}
	if !a.Expires.IsZero() {
		attrs = append(attrs, slog.Time("expires", a.Expires))
	}
	l.log.LogAttrs(ctx, level, msg, attrs...)
}

// Digest logs one warning per link needing attention, after a summary line.
func (l *LogMailer) Digest(ctx context.Context, d Digest) error {
	if len(d.Links) == 0 {
		return nil
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "links need attention (no smtp admin address configured for the digest)", slog.Int("links", len(d.Links)))
	for _, s := range d.Links {
		attrs := []slog.Attr{
			slog.String("profile", s.Profile),
			slog.String("link", s.Link),
			slog.String("state", s.State),
			slog.String("mailbox", s.Mailbox),
		}
		if !s.Since.IsZero() {
			attrs = append(attrs, slog.Time("since", s.Since))
		}
		if s.LastError != "" {
			attrs = append(attrs, slog.String("last_error", s.LastError))
		}
		l.log.LogAttrs(ctx, slog.LevelWarn, "link needs attention", attrs...)
	}
	return nil
}

func kindOrUser(k Kind) Kind {
	if k == "" {
		return KindUser
	}
	return k
}
