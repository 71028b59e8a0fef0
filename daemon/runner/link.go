package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/pluginhost"
	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// recordTimeout bounds the store write that records a run's outcome, which is
// made even when the run's context has ended.
const recordTimeout = 10 * time.Second

// runLink is the scheduler's RunFunc: one run of one link, with its outcome
// recorded in the link's row (dry runs record only a missing consent).
func (r *Runner) runLink(ctx context.Context, profile, link string, opts engine.RunOptions) (engine.Result, error) {
	b, err := r.bind(profile, link)
	if err != nil {
		return engine.Result{Pairs: -1}, err
	}
	// One run per link at a time: runs of one link never overlap in the
	// scheduler, and Recover must not race a run either.
	b.entry.mu.Lock()
	defer b.entry.mu.Unlock()

	started := r.now()
	el, self, err := r.prepare(ctx, b)
	if err != nil {
		return r.notRun(ctx, b, opts, started, err)
	}
	el.Meetings = r.meetingsFor(ctx, b, self)
	r.setReconcile(el.Key, b.prof.Reconcile)
	if !opts.DryRun {
		// A dry run changes nothing: it neither subscribes to changes nor wakes
		// the link once a subscription exists.
		r.bindPush(ctx, b, el)
	}
	if b.entry.recovered != el.Key {
		if err := r.eng.Recover(ctx, el); err != nil {
			return r.notRun(ctx, b, opts, started, fmt.Errorf("settle the writes an earlier run left unfinished: %w", err))
		}
		b.entry.recovered = el.Key
	}
	res, err := r.eng.Run(ctx, el, opts)
	if err != nil {
		err = r.explain(b, err)
	}
	b.entry.waiting.Store(false)
	if !opts.DryRun || errors.Is(err, errWaiting) {
		r.recordRun(ctx, b, res, err)
	}
	return res, err
}

// prepare binds both sides of a link for a run: plugins configured, credentials
// at hand, accounts resolved. It also returns the link as a member of its
// profile's meetings.
func (r *Runner) prepare(ctx context.Context, b *bound) (engine.Link, engine.Member, error) {
	so, cal, soAcc, calAcc, err := r.resolve(ctx, b)
	if err != nil {
		return engine.Link{}, engine.Member{}, err
	}
	key := pairKey(b, soAcc.ID, calAcc.ID)
	return engine.Link{
		Key:         key,
		Profile:     b.id.Profile,
		Name:        b.id.Link,
		SuperOffice: so,
		Calendar:    cal,
		Policy:      b.policy(),
	}, engine.Member{Link: key, Kind: b.kind(), SuperOffice: soAcc, Calendar: calAcc}, nil
}

// resolve binds a link's two sides to their providers and resolves its
// accounts (cached until the next Apply).
func (r *Runner) resolve(ctx context.Context, b *bound) (so, cal *side, soAcc, calAcc sdk.Account, err error) {
	soP, err := r.provider(ctx, b.so.Name)
	if err != nil {
		return nil, nil, soAcc, calAcc, err
	}
	calP, err := r.provider(ctx, b.cal.Name)
	if err != nil {
		return nil, nil, soAcc, calAcc, err
	}
	creds := r.opts.Credentials
	so = &side{which: engine.SuperOffice, p: soP, base: sdk.Target{Instance: b.so.Name},
		credential: func(ctx context.Context) (sdk.Credential, error) { return creds.SuperOffice(ctx, b.so) },
		invalidate: creds.Invalidate, slots: r.requestSlots(config.ProviderSuperOffice, b.so.Name)}
	cal = &side{which: engine.Calendar, p: calP, base: sdk.Target{Instance: b.cal.Name},
		credential: func(ctx context.Context) (sdk.Credential, error) { return creds.Calendar(ctx, b.cal, b.link) },
		invalidate: creds.Invalidate, slots: r.requestSlots(b.cal.Provider, b.cal.Name)}

	// The link's own consent first: a person who has not consented yet gets
	// the activation link even while the tenant is not connected either.
	if _, err := cal.target(ctx); err != nil {
		return nil, nil, soAcc, calAcc, err
	}
	if _, err := so.target(ctx); err != nil {
		return nil, nil, soAcc, calAcc, err
	}
	if soAcc, err = r.lookup(ctx, so, b.kind(), b.link.Associate); err != nil {
		return nil, nil, soAcc, calAcc, lookupError(b, "superoffice", err)
	}
	if calAcc, err = r.lookup(ctx, cal, b.kind(), b.link.Mailbox); err != nil {
		return nil, nil, soAcc, calAcc, lookupError(b, "calendar", err)
	}
	so.base.Account, cal.base.Account = soAcc.ID, calAcc.ID
	return so, cal, soAcc, calAcc, nil
}

// pairKey is the key of a link's pairs in the sync store: the link's name and a
// hash of what it binds, so a link re-pointed at another mailbox or associate
// starts a fresh pair set instead of reading a different calendar as emptied.
func pairKey(b *bound, soAccount, calAccount string) string {
	h := sha256.New()
	for _, s := range []string{b.so.Name, string(b.link.Kind), soAccount, b.cal.Provider, b.cal.Name, calAccount} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return b.id.String() + "/" + hex.EncodeToString(h.Sum(nil))[:16]
}

func lookupError(b *bound, which string, err error) error {
	if !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("look up the %s account of the link: %w", which, err)
	}
	where := config.Where(b.link.Range)
	if which == "superoffice" {
		if b.link.Kind == config.KindResource {
			return fmt.Errorf("SuperOffice tenant %s has no resource %q: check the link's resource name or id (%s)", b.so.Name, b.link.Associate, where)
		}
		return fmt.Errorf("SuperOffice tenant %s has no associate %q: check the link's associate login name or id (%s)", b.so.Name, b.link.Associate, where)
	}
	return fmt.Errorf("calendar %s (%s) has no mailbox %q: check the link's mailbox (%s)", b.cal.Name, b.cal.Provider, b.link.Mailbox, where)
}

// errWaiting marks a link that cannot run until a person consents: not a
// failure the scheduler backs off from.
var errWaiting = errors.New("waiting for consent")

// explain turns a run's error into what the link's row says: consent problems
// become errWaiting (the link's own) or an instruction for the administrator
// (the tenant's connection).
func (r *Runner) explain(b *bound, err error) error {
	var ce *credError
	if !errors.As(err, &ce) {
		return err
	}
	revoked := errors.Is(err, sdk.ErrConsentRevoked)
	none := errors.Is(err, ErrNoConsent)
	switch {
	case ce.side == engine.Calendar && (revoked || none):
		return &waitError{revoked: revoked, err: err}
	case ce.side == engine.SuperOffice && none:
		return fmt.Errorf("SuperOffice tenant %s is not connected yet: an administrator runs `synchronizer connect %s` and opens the URL it prints", b.so.Name, b.so.Name)
	case ce.side == engine.SuperOffice && revoked:
		return fmt.Errorf("the connection to SuperOffice tenant %s was revoked or has expired: an administrator runs `synchronizer connect %s` again (%v)", b.so.Name, b.so.Name, err)
	}
	return fmt.Errorf("credentials for the %s side: %w", ce.side, err)
}

// waitError says a link waits for its person's consent.
type waitError struct {
	revoked bool
	err     error
}

func (e *waitError) Error() string {
	if e.revoked {
		return "consent revoked or expired: " + e.err.Error()
	}
	return "waiting for consent: " + e.err.Error()
}
func (e *waitError) Is(target error) bool { return target == errWaiting }
func (e *waitError) Unwrap() error        { return e.err }

// notRun handles a run that failed before the engine started.
func (r *Runner) notRun(ctx context.Context, b *bound, opts engine.RunOptions, started time.Time, err error) (engine.Result, error) {
	err = r.explain(b, err)
	res := engine.Result{Link: b.id.String(), Started: started, Finished: r.now(), DryRun: opts.DryRun, Pairs: -1}
	if errors.Is(err, errWaiting) {
		// A missing consent is recorded on dry runs too: it is a fact about
		// the link, not a change of its items. The link is looked at again at
		// its interval, without the backoff of a failing link.
		b.entry.waiting.Store(true)
		r.recordRun(ctx, b, res, err)
		return res, nil
	}
	b.entry.waiting.Store(false)
	if shutdown(ctx, err) {
		return res, err
	}
	if !opts.DryRun {
		if m := r.opts.Metrics; m != nil {
			m.ObserveRun(b.id.Profile, err, res.Finished.Sub(started), res.Finished)
		}
		r.recordRun(ctx, b, res, err)
	}
	return res, err
}

// shutdown reports an error that only says the daemon is stopping.
func shutdown(ctx context.Context, err error) bool {
	if errors.Is(err, pluginhost.ErrClosed) {
		return true
	}
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// recordRun brings the link's row in line with a run's outcome.
func (r *Runner) recordRun(ctx context.Context, b *bound, res engine.Result, err error) {
	if err != nil && shutdown(ctx, err) {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var we *waitError
	if errors.As(err, &we) {
		r.recordWaiting(wctx, b, we)
		return
	}
	prev, _ := r.opts.Store.Link(wctx, b.id)
	row, serr := r.opts.Store.UpdateLink(wctx, b.id, func(l *state.Link) error {
		if res.Pairs >= 0 {
			l.Items = res.Pairs
		}
		if err != nil {
			l.State = state.Error
			l.LastError = err.Error()
			return nil
		}
		l.State = state.Active
		l.LastSync = res.Finished
		l.LastError = itemErrors(res)
		l.ActivationURL = ""
		return nil
	})
	if serr != nil {
		r.log.Error("cannot record the outcome of a run", "profile", b.id.Profile, "link", b.id.Link, "err", serr)
		return
	}
	if prev.State != row.State {
		if row.State == state.Error {
			r.log.Warn("link stopped in error", "profile", b.id.Profile, "link", b.id.Link, "err", row.LastError)
		} else {
			r.log.Info("link is active", "profile", b.id.Profile, "link", b.id.Link, "items", row.Items)
		}
	}
}

// itemErrors summarises the items a successful run could not write.
func itemErrors(res engine.Result) string {
	n := len(res.ItemErrors)
	if n == 0 {
		return ""
	}
	noun := "items"
	if n == 1 {
		noun = "item"
	}
	return fmt.Sprintf("%d %s could not be written (they are tried again on the next run); first: %s", n, noun, res.ItemErrors[0])
}

// recordWaiting puts a link in pending_activation or needs_consent with an
// activation URL. The "consent lost" notice goes out once, when the link enters
// needs_consent; after that the activation is only kept valid.
func (r *Runner) recordWaiting(ctx context.Context, b *bound, we *waitError) {
	prev, _ := r.opts.Store.Link(ctx, b.id)
	st, reason := state.PendingActivation, fmt.Sprintf("waiting for %s to open the activation link and consent", b.link.Mailbox)
	if we.revoked {
		st, reason = state.NeedsConsent, fmt.Sprintf("the consent of %s was revoked or has expired; a new activation link was issued", b.link.Mailbox)
	}
	var url string
	var aerr error
	if a := r.opts.Activations; a != nil {
		if we.revoked && prev.State != state.NeedsConsent {
			url, aerr = a.NeedsConsent(ctx, b.prof, b.link)
		} else {
			url, aerr = a.Ensure(ctx, b.prof, b.link)
		}
	} else {
		aerr = errors.New("this daemon has no consent listener")
	}
	if aerr != nil {
		reason = fmt.Sprintf("%s; but no activation link could be issued: %v", strings.SplitN(reason, ";", 2)[0], aerr)
	}
	row, err := r.opts.Store.UpdateLink(ctx, b.id, func(l *state.Link) error {
		l.State = st
		l.LastError = reason
		if url != "" {
			l.ActivationURL = url
		}
		return nil
	})
	if err != nil {
		r.log.Error("cannot record the link's state", "profile", b.id.Profile, "link", b.id.Link, "err", err)
		return
	}
	if prev.State != row.State || aerr != nil {
		r.log.Info("link waits for consent", "profile", b.id.Profile, "link", b.id.Link, "state", string(row.State), "reason", reason)
	}
}

// requestSlots returns the request slots of a provider instance (nil when its
// provider has no request limit).
func (r *Runner) requestSlots(provider, instance string) chan struct{} {
	n := r.opts.RequestLimits[provider]
	if n <= 0 {
		return nil
	}
	r.slotsMu.Lock()
	defer r.slotsMu.Unlock()
	key := provider + "/" + instance
	c := r.slots[key]
	if c == nil {
		c = make(chan struct{}, n)
		r.slots[key] = c
	}
	return c
}
