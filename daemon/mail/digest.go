package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DigestInterval is the least time between two admin digests.
const DigestInterval = 12 * time.Hour

// DefaultPendingAfter is how long a link may wait for activation before the digest
// mentions it.
const DefaultPendingAfter = 72 * time.Hour

// DigestStore remembers when the last digest went out, so a restart does not send
// another one early. The daemon backs it with its state store.
type DigestStore interface {
	// LastDigest returns when the last digest was sent; the zero time if never.
	LastDigest(ctx context.Context) (time.Time, error)
	// SetLastDigest records that a digest was sent at t.
	SetLastDigest(ctx context.Context, t time.Time) error
}

// LinkSource lists every link with its state; the scheduler picks those that need
// attention.
type LinkSource interface {
	LinkStatuses(ctx context.Context) ([]LinkStatus, error)
}

// LinkSourceFunc adapts a function to LinkSource.
type LinkSourceFunc func(ctx context.Context) ([]LinkStatus, error)

// LinkStatuses returns f(ctx).
func (f LinkSourceFunc) LinkStatuses(ctx context.Context) ([]LinkStatus, error) { return f(ctx) }

// DigestConfig are a DigestScheduler's dependencies.
type DigestConfig struct {
	Mailer Mailer      // required
	Store  DigestStore // required
	Links  LinkSource  // required
	Clock  Clock       // nil: the system clock
	Logger *slog.Logger
	// PendingAfter is how long a link may stay pending_activation before it counts;
	// 0 means DefaultPendingAfter.
	PendingAfter time.Duration
}

// DigestScheduler sends the admin digest: only when some link needs attention, and at
// most once per DigestInterval, across restarts. It is safe for concurrent use.
type DigestScheduler struct {
	mailer       Mailer
	store        DigestStore
	links        LinkSource
	clock        Clock
	log          *slog.Logger
	pendingAfter time.Duration

	mu sync.Mutex // one Check at a time, so two callers cannot both send
}

// NewDigestScheduler checks cfg and returns a scheduler.
func NewDigestScheduler(cfg DigestConfig) (*DigestScheduler, error) {
	if cfg.Mailer == nil || cfg.Store == nil || cfg.Links == nil {
		return nil, errors.New("digest scheduler: Mailer, Store and Links are required")
	}
	s := &DigestScheduler{
		mailer:       cfg.Mailer,
		store:        cfg.Store,
		links:        cfg.Links,
		clock:        cfg.Clock,
		log:          cfg.Logger,
		pendingAfter: cfg.PendingAfter,
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.pendingAfter <= 0 {
		s.pendingAfter = DefaultPendingAfter
	}
	return s, nil
}

// Check sends the digest if one is due and some link needs attention, and records
// when it did. It reports whether a digest went out. A digest that fails to send is
// not recorded, so the next Check tries again.
func (s *DigestScheduler) Check(ctx context.Context) (sent bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	now := s.clock.Now()
	last, err := s.store.LastDigest(ctx)
	if err != nil {
		return false, fmt.Errorf("admin digest: read when the last one was sent: %w", err)
	}
	if !digestDue(last, now) {
		return false, nil
	}
	all, err := s.links.LinkStatuses(ctx)
	if err != nil {
		return false, fmt.Errorf("admin digest: list links: %w", err)
	}
	var attention []LinkStatus
	for _, l := range all {
		if s.needsAttention(l, now) {
			attention = append(attention, l)
		}
	}
	if len(attention) == 0 {
		return false, nil
	}
	if err := s.mailer.Digest(ctx, Digest{At: now, Links: attention}); err != nil {
		return false, err
	}
	if err := s.store.SetLastDigest(ctx, now); err != nil {
		// Sent but not recorded: after a restart the digest may come once more early.
		return true, fmt.Errorf("admin digest sent, but recording it failed (it may be sent again early after a restart): %w", err)
	}
	return true, nil
}

// digestDue: never sent, or sent at least DigestInterval ago. A last time further in
// the future than one interval means the clock was set back; waiting for it could
// silence the digest for good, so it counts as due.
func digestDue(last, now time.Time) bool {
	if last.IsZero() {
		return true
	}
	return now.Sub(last) >= DigestInterval || last.Sub(now) > DigestInterval
}

// needsAttention: sign-in expired, error and unlicensed links always; a pending link
// once it has waited PendingAfter (by Since) or its activation URL has expired.
func (s *DigestScheduler) needsAttention(l LinkStatus, now time.Time) bool {
	switch l.State {
	case StateNeedsConsent, StateError, StateUnlicensed:
		return true
	case StatePendingActivation:
		if !l.ActivationExpires.IsZero() && !l.ActivationExpires.After(now) {
			return true
		}
		return !l.Since.IsZero() && now.Sub(l.Since) >= s.pendingAfter
	default:
		return false
	}
}

// Run calls Check at every tick until ctx ends or ticks closes, logging what happens.
// The caller owns the ticker (for example time.NewTicker(10*time.Minute).C), so tests
// drive it without waiting.
func (s *DigestScheduler) Run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ticks:
			if !ok {
				return
			}
			sent, err := s.Check(ctx)
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case err != nil:
				s.log.Error("admin digest failed; will try again", slog.String("error", err.Error()))
			case sent:
				s.log.Debug("admin digest done")
			}
		}
	}
}
