package runner

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/push"
	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// Push and reconcile in the runner.
//
// Push: when the state store can keep subscriptions (state.Bolt and
// state.Memory can) the runner runs a daemon/push Manager. After each run that
// bound a link's accounts, the link declares its two sides to it (Bind), when
// its profile has push on, http.public_url is written and the side's provider
// announces push. A notification wakes the link: a run through the scheduler
// (RunNow), coalesced per link, so a burst of notifications during a run makes
// one more run after it, never a queue of them. The scheduler's interval runs
// go on regardless: push only brings a run forward.
//
// Reconcile: every profile's reconcile period (default 3h) a link's run reads
// both sides in full instead of incrementally, which catches what the change
// feeds and the notifications missed (the engine's own periodic full read,
// FullEvery, still applies on top). The runner asks for it by hiding, from the
// engine, a cursor whose last full read is older than the period; nothing in
// the store changes, so a failed reconcile is simply tried again by the next run.

// NotifyHandler is the handler of POST /notify/... for the consent listener
// (web.WithNotify); nil when push is not available (the store cannot keep
// subscriptions, or Options.NoPush).
func (r *Runner) NotifyHandler() http.Handler {
	if r.push == nil {
		return nil
	}
	return r.push.Handler()
}

// PushSubscriptions lists the change subscriptions in force (none without push).
func (r *Runner) PushSubscriptions() []push.Subscription {
	if r.push == nil {
		return nil
	}
	return r.push.Subscriptions()
}

// startPush builds and starts the push manager when the store can keep
// subscriptions.
func (r *Runner) startPush() error {
	ps, ok := r.opts.Store.(push.Store)
	if !ok || r.opts.NoPush {
		return nil
	}
	po := r.opts.Push
	po.Store = ps
	po.Pushers = r.pusher
	po.Wake = r.wake
	po.Logger = r.log
	po.Clock = r.opts.Clock
	m, err := push.New(po)
	if err != nil {
		return err
	}
	r.push = m
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		_ = m.Run(r.ctx)
	}()
	return nil
}

// pusher returns the push part of a provider plugin.
func (r *Runner) pusher(name string) (sdk.Pusher, error) {
	p, err := r.opts.Plugins(name)
	if err != nil {
		return nil, err
	}
	pu, ok := p.(sdk.Pusher)
	if !ok {
		return nil, fmt.Errorf("provider %s: push: %w", name, sdk.ErrUnsupported)
	}
	return pu, nil
}

// capabilities returns a provider's capabilities, asked once per configuration.
func (r *Runner) capabilities(ctx context.Context, provider string) (sdk.Capabilities, error) {
	r.capsMu.Lock()
	c, ok := r.caps[provider]
	r.capsMu.Unlock()
	if ok {
		return c, nil
	}
	p, err := r.opts.Plugins(provider)
	if err != nil {
		return sdk.Capabilities{}, err
	}
	info, err := p.Info(ctx)
	if err != nil {
		return sdk.Capabilities{}, err
	}
	r.capsMu.Lock()
	r.caps[provider] = info.Capabilities
	r.capsMu.Unlock()
	return info.Capabilities, nil
}

// applyPush hands the configuration's push settings to the manager. The links
// of profiles that turned push off are unbound at once, not at their next run:
// until then their stored subscriptions would go on waking them, and they
// would be removed at the services only once every link had run. r.mu is not
// held.
func (r *Runner) applyPush(publicURL string, allowed, quiet []state.LinkID) {
	r.capsMu.Lock()
	clear(r.caps)
	r.capsMu.Unlock()
	if r.push == nil {
		return
	}
	r.push.SetBaseURL(publicURL)
	r.push.Retain(allowed)
	for _, id := range quiet {
		r.push.Bind(id, nil)
	}
}

// bindPush declares a prepared link's sides to the push manager.
func (r *Runner) bindPush(ctx context.Context, b *bound, el engine.Link) {
	if r.push == nil {
		return
	}
	r.mu.RLock()
	on := r.cfg != nil && r.cfg.HTTP.PublicURLSet && b.prof.Push
	r.mu.RUnlock()
	if !on {
		r.push.Bind(b.id, nil)
		return
	}
	var srcs []push.Source
	for _, s := range []struct {
		block string
		ep    engine.Endpoint
	}{{b.so.Name, el.SuperOffice}, {b.cal.Name, el.Calendar}} {
		sd, ok := s.ep.(*side)
		if !ok {
			continue
		}
		in, err := r.instanceFor(s.block)
		if err != nil {
			continue
		}
		caps, err := r.capabilities(ctx, in.provider)
		if err != nil {
			r.log.Debug("provider capabilities unknown; no push for this side yet", "provider", in.provider, "err", err)
			continue
		}
		if !caps.Push {
			continue
		}
		srcs = append(srcs, push.Source{Provider: in.provider, Instance: sd.base.Instance, Scope: caps.PushScope,
			Account: sd.base.Account, Target: sd.target})
	}
	r.push.Bind(b.id, srcs)
}

// waker coalesces wake-ups per link: one goroutine per woken link runs it
// again as long as new wake-ups arrived since its last run started.
type waker struct {
	mu     sync.Mutex
	dirty  map[state.LinkID]bool
	active map[state.LinkID]bool
}

// wake asks for a run of a link soon (a notification concerned it). It never
// blocks.
func (r *Runner) wake(id state.LinkID) {
	w := &r.waker
	w.mu.Lock()
	w.dirty[id] = true
	if w.active[id] {
		w.mu.Unlock()
		return
	}
	r.mu.RLock()
	ok := r.allowed[id] && !r.closed
	if ok {
		r.bg.Add(1)
	}
	r.mu.RUnlock()
	if !ok {
		delete(w.dirty, id)
		w.mu.Unlock()
		return
	}
	w.active[id] = true
	w.mu.Unlock()
	go func() {
		defer r.bg.Done()
		for {
			w.mu.Lock()
			if !w.dirty[id] || r.ctx.Err() != nil {
				delete(w.active, id)
				delete(w.dirty, id)
				w.mu.Unlock()
				return
			}
			delete(w.dirty, id)
			w.mu.Unlock()
			if _, err := r.sched.RunNow(r.ctx, id.Profile, id.Link, engine.RunOptions{}); err != nil && r.ctx.Err() == nil {
				r.log.Debug("run asked by a notification not made", "profile", id.Profile, "link", id.Link, "err", err)
			}
		}
	}()
}

// reconcileStore is the engine's store as the runner shows it: a side whose
// last full read is older than the link's reconcile period has no cursor, so
// the run reads it in full.
type reconcileStore struct {
	engine.Store
	r *Runner
}

func (s reconcileStore) Cursor(ctx context.Context, link string, side engine.Side) (engine.CursorState, bool, error) {
	cs, ok, err := s.Store.Cursor(ctx, link, side)
	if err != nil || !ok || cs.Token == "" {
		return cs, ok, err
	}
	if every := s.r.reconcileEvery(link); every > 0 && s.r.now().Sub(cs.FullAt) >= every {
		s.r.log.Debug("reconcile: reading a side in full", "link", link, "side", side, "last_full", cs.FullAt)
		cs.Token = ""
	}
	return cs, ok, err
}

// reconcileEvery is the reconcile period of a link's pair key (0: none).
func (r *Runner) reconcileEvery(key string) time.Duration {
	r.reconcileMu.Lock()
	defer r.reconcileMu.Unlock()
	return r.reconcile[key]
}

func (r *Runner) setReconcile(key string, every time.Duration) {
	r.reconcileMu.Lock()
	defer r.reconcileMu.Unlock()
	r.reconcile[key] = every
}
