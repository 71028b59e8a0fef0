package push

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"synchronizer/daemon/scheduler"
	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// Store persists subscriptions; state.Bolt and state.Memory implement it.
type Store interface {
	PushSubscriptions(ctx context.Context) ([]state.PushSubscription, error)
	PutPushSubscription(ctx context.Context, s state.PushSubscription) error
	DeletePushSubscription(ctx context.Context, token string) error
}

// Source is one side of a link that can be watched.
type Source struct {
	// Provider is the plugin's name ("m365"); it is part of the notification URL.
	Provider string
	// Instance is the superoffice or calendar block.
	Instance string
	// Scope is the provider's Capabilities.PushScope ("" = per account).
	Scope sdk.PushScope
	// Account is the link's account on this side (Target.Account).
	Account string
	// Target returns the side's target with a fresh credential, for Watch and
	// Unwatch.
	Target func(ctx context.Context) (sdk.Target, error)
}

func (s Source) instanceWide() bool { return s.Scope == sdk.PushScopeInstance }

// key names what one subscription watches.
func (s Source) key() string {
	if s.instanceWide() {
		return sourceKey(s.Provider, s.Instance, "")
	}
	return sourceKey(s.Provider, s.Instance, s.Account)
}

func sourceKey(provider, instance, account string) string {
	k := provider + "/" + instance
	if account != "" {
		k += "/" + account
	}
	return k
}

// Options are a Manager's dependencies and tunables; zero values take defaults.
type Options struct {
	// Store and Pushers are required. Pushers returns the push part of a
	// provider plugin by name.
	Store   Store
	Pushers func(provider string) (sdk.Pusher, error)
	// Wake asks for a run of a link soon. It must not block.
	Wake   func(link state.LinkID)
	Logger *slog.Logger
	// Clock drives renewals and retries (the wall clock when nil).
	Clock scheduler.Clock
	// Random supplies path tokens and secrets (crypto/rand when nil).
	Random io.Reader

	// Lifetime is the expiry asked for a new or renewed subscription; services
	// cap it (Graph at under 7 days). [72h]
	Lifetime time.Duration
	// CheckEvery is how often a subscription that does not expire (a webhook)
	// is checked and repaired. [1h]
	CheckEvery time.Duration
	// RetryMin and RetryMax bound the backoff after a failed Watch. [1m, 1h]
	RetryMin, RetryMax time.Duration
	// Parallel bounds Watch and Unwatch calls in flight. [4]
	Parallel int
	// CallTimeout bounds one Watch or Unwatch. [1m]
	CallTimeout time.Duration
	// NotifyTimeout bounds the plugin's verdict on one notification; Graph wants
	// an answer within 3 seconds. [2.5s]
	NotifyTimeout time.Duration
	// MaxBody bounds a notification's body. [1 MiB]
	MaxBody int64
	// MaxInFlight bounds notifications handled at once; more get 503. [64]
	MaxInFlight int
}

// Manager keeps the subscriptions of the bound sources and serves their
// notifications. Create it with New, start Run, mount Handler.
type Manager struct {
	opts     Options
	log      *slog.Logger
	kick     chan struct{}
	sem      chan struct{}
	inflight chan struct{}
	wg       sync.WaitGroup

	mu          sync.Mutex
	loaded      bool
	base        string // public URL; "" = push off
	baseKnown   bool
	entries     map[string]*entry // by source key
	tokens      map[string]*entry // by path token: current, pending and stale records
	binds       map[state.LinkID]map[string]Source
	byKey       map[string]map[state.LinkID]bool // source key -> links bound to it
	declared    map[state.LinkID]bool            // bound at least once since start (possibly to nothing)
	retained    map[state.LinkID]bool
	retainKnown bool
	noPush      map[string]bool // providers that answered ErrUnsupported
}

// entry is what the manager keeps for one source key.
type entry struct {
	key                         string
	provider, instance, account string // account "" = instance-wide
	// rec is the subscription in force; rec.ID == "" when there is none.
	rec state.PushSubscription
	// pending is a subscription being created (its token already routes).
	pending *state.PushSubscription
	// stale are replaced subscriptions still to be removed at the service.
	stale []state.PushSubscription
	// target is the latest Source.Target a binder gave.
	target   func(ctx context.Context) (sdk.Target, error)
	next     time.Time // no work before this (renewal or retry)
	failures int
	busy     bool
	want     string // "", sdk.LifecycleRenew or sdk.LifecycleRecreate
}

// New returns a Manager. Nothing happens before Run.
func New(opts Options) (*Manager, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("push: no store")
	case opts.Pushers == nil:
		return nil, errors.New("push: no plugins")
	}
	if opts.Wake == nil {
		opts.Wake = func(state.LinkID) {}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = scheduler.RealClock{}
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Lifetime, 72*time.Hour)
	def(&opts.CheckEvery, time.Hour)
	def(&opts.RetryMin, time.Minute)
	def(&opts.RetryMax, time.Hour)
	def(&opts.CallTimeout, time.Minute)
	def(&opts.NotifyTimeout, 2500*time.Millisecond)
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	return &Manager{
		opts: opts, log: opts.Logger.With("component", "push"),
		kick:     make(chan struct{}, 1),
		sem:      make(chan struct{}, opts.Parallel),
		inflight: make(chan struct{}, opts.MaxInFlight),
		entries:  map[string]*entry{},
		tokens:   map[string]*entry{},
		binds:    map[state.LinkID]map[string]Source{},
		byKey:    map[string]map[state.LinkID]bool{},
		declared: map[state.LinkID]bool{},
		noPush:   map[string]bool{},
	}, nil
}

func (m *Manager) wakeLoop() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// SetBaseURL sets the public URL notifications are delivered under ("" turns
// push off: every subscription is removed and links are polled only).
func (m *Manager) SetBaseURL(base string) {
	base = strings.TrimRight(base, "/")
	m.mu.Lock()
	changed := !m.baseKnown || m.base != base
	m.base, m.baseKnown = base, true
	m.mu.Unlock()
	if !changed {
		return
	}
	if base == "" {
		m.log.Info("push notifications are off: http.public_url is not set, so links are polled at their interval only")
	} else {
		m.log.Info("push notifications are delivered to the consent listener", "url", base+"/notify/")
	}
	m.wakeLoop()
}

// Retain says which links the configuration in force runs; subscriptions used
// only by other links are removed.
func (m *Manager) Retain(links []state.LinkID) {
	m.mu.Lock()
	m.retained = map[state.LinkID]bool{}
	for _, id := range links {
		m.retained[id] = true
	}
	m.retainKnown = true
	for id := range m.binds {
		if !m.retained[id] {
			m.unbindLocked(id)
		}
	}
	for id := range m.declared {
		if !m.retained[id] {
			delete(m.declared, id)
		}
	}
	m.mu.Unlock()
	m.wakeLoop()
}

// Bind declares what a link listens to now (nil: nothing, e.g. push is off for
// its profile). Calling it after every run is cheap.
func (m *Manager) Bind(link state.LinkID, sources []Source) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.declared[link] = true
	old := m.binds[link]
	cur := map[string]Source{}
	for _, s := range sources {
		if s.Provider == "" || s.Instance == "" || s.Target == nil || (!s.instanceWide() && s.Account == "") {
			continue
		}
		if m.noPush[s.Provider] {
			continue
		}
		k := s.key()
		cur[k] = s
		e := m.entries[k]
		if e == nil {
			e = &entry{key: k, provider: s.Provider, instance: s.Instance}
			if !s.instanceWide() {
				e.account = s.Account
			}
			m.entries[k] = e
		}
		e.target = s.Target
	}
	m.unbindLocked(link)
	if len(cur) > 0 {
		m.binds[link] = cur
		for k := range cur {
			if m.byKey[k] == nil {
				m.byKey[k] = map[state.LinkID]bool{}
			}
			m.byKey[k][link] = true
		}
	}
	if !sameKeys(old, cur) {
		m.wakeLoop()
	}
}

// unbindLocked forgets what link was bound to.
func (m *Manager) unbindLocked(link state.LinkID) {
	for k := range m.binds[link] {
		delete(m.byKey[k], link)
		if len(m.byKey[k]) == 0 {
			delete(m.byKey, k)
		}
	}
	delete(m.binds, link)
}

func sameKeys(a, b map[string]Source) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// Subscription is what Subscriptions reports about one (never its secret).
type Subscription struct {
	Provider, Instance, Account string
	ID                          string
	Expires                     time.Time
	Links                       []state.LinkID
	// Path is the notification URL's path (/notify/{provider}/{token}).
	Path string
}

// Subscriptions lists the subscriptions in force, sorted by source.
func (m *Manager) Subscriptions() []Subscription {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Subscription
	for _, e := range m.entries {
		if e.rec.ID == "" {
			continue
		}
		out = append(out, Subscription{Provider: e.provider, Instance: e.instance, Account: e.account, ID: e.rec.ID,
			Expires: e.rec.Expires, Links: m.linksOfLocked(e), Path: notifyPath(e.provider, e.rec.Token)})
	}
	sort.Slice(out, func(i, j int) bool {
		return sourceKey(out[i].Provider, out[i].Instance, out[i].Account) < sourceKey(out[j].Provider, out[j].Instance, out[j].Account)
	})
	return out
}

func notifyPath(provider, token string) string { return "/notify/" + provider + "/" + token }

// linksOfLocked returns the links bound to e's source, sorted.
func (m *Manager) linksOfLocked(e *entry) []state.LinkID {
	out := make([]state.LinkID, 0, len(m.byKey[e.key]))
	for id := range m.byKey[e.key] {
		out = append(out, id)
	}
	sortLinks(out)
	return out
}

func sortLinks(ids []state.LinkID) {
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
}

// claimedLocked reports whether some link of the configuration still wants e: a
// link bound to it, or one stored with it that has not said otherwise since
// the start.
func (m *Manager) claimedLocked(e *entry) bool {
	if !m.baseKnown || !m.retainKnown {
		return true // too early to tell
	}
	if m.base == "" {
		return false
	}
	if len(m.byKey[e.key]) > 0 {
		return true
	}
	for _, id := range e.rec.Links {
		if m.retained[id] && !m.declared[id] {
			return true
		}
	}
	return false
}

// desiredLocked reports whether e's source should have a subscription now.
func (m *Manager) desiredLocked(e *entry) bool {
	return m.base != "" && len(m.byKey[e.key]) > 0 && !m.noPush[e.provider]
}

// newSecret returns 256 random bits, URL-safe.
func (m *Manager) newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(m.opts.Random, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// redact removes path tokens and secrets from an error's text before it is
// logged: a provider's error may quote the URL it was given.
func redact(err error, recs ...state.PushSubscription) string {
	s := err.Error()
	for _, r := range recs {
		for _, v := range []string{r.Secret, r.Token} {
			if v != "" {
				s = strings.ReplaceAll(s, v, "[redacted]")
			}
		}
	}
	return s
}

func subscriptionOf(r state.PushSubscription) sdk.Subscription {
	return sdk.Subscription{ID: r.ID, ResourceID: r.ResourceID, Expires: r.Expires, Extra: r.Extra}
}

// renewAt is when a subscription obtained at r.Obtained is renewed: at two
// thirds of its life, or after CheckEvery when it does not expire.
func (m *Manager) renewAt(r state.PushSubscription) time.Time {
	if r.Expires.IsZero() {
		return r.Obtained.Add(m.opts.CheckEvery)
	}
	life := r.Expires.Sub(r.Obtained)
	if life <= 0 {
		return r.Obtained
	}
	return r.Obtained.Add(life * 2 / 3)
}

func (m *Manager) backoff(n int) time.Duration {
	d := m.opts.RetryMin
	for i := 1; i < n && d < m.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, m.opts.RetryMax)
}

// load reads the stored subscriptions once.
func (m *Manager) load(ctx context.Context) error {
	recs, err := m.opts.Store.PushSubscriptions(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		k := sourceKey(r.Provider, r.Instance, r.Account)
		e := m.entries[k]
		if e == nil {
			e = &entry{key: k, provider: r.Provider, instance: r.Instance, account: r.Account}
			m.entries[k] = e
		}
		m.tokens[r.Token] = e
		switch {
		case r.ID == "":
			// A creation that never finished: nothing to keep at the service.
			e.stale = append(e.stale, r)
		case e.rec.ID == "" || r.Obtained.After(e.rec.Obtained):
			if e.rec.ID != "" {
				e.stale = append(e.stale, e.rec)
			}
			e.rec = r
			e.next = m.renewAt(r)
		default:
			e.stale = append(e.stale, r)
		}
	}
	m.loaded = true
	if len(recs) > 0 {
		m.log.Info("push subscriptions loaded", "count", len(recs))
	}
	return nil
}

// Run keeps the subscriptions until ctx ends, then waits for calls in flight.
func (m *Manager) Run(ctx context.Context) error {
	defer m.wg.Wait()
	for {
		err := m.load(ctx)
		if err == nil {
			break
		}
		m.log.Error("cannot read the stored push subscriptions; retrying", "err", err)
		if !scheduler.Wait(ctx, m.opts.Clock, m.opts.RetryMin, nil) {
			return nil
		}
	}
	for {
		if !scheduler.Wait(ctx, m.opts.Clock, m.dispatch(ctx), m.kick) {
			return nil
		}
	}
}

// dispatch starts the work that is due and returns how long until the next
// (-1: none scheduled).
func (m *Manager) dispatch(ctx context.Context) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Clock.Now()
	next := time.Duration(-1)
	later := func(t time.Time) {
		d := max(t.Sub(now), 0)
		if next < 0 || d < next {
			next = d
		}
	}
	keys := make([]string, 0, len(m.entries))
	for k := range m.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := m.entries[k]
		if e.busy {
			continue
		}
		if !m.claimedLocked(e) {
			m.start(ctx, e, m.remove)
			continue
		}
		if len(e.stale) > 0 && e.target != nil {
			m.start(ctx, e, m.dropStale)
			continue
		}
		if !m.desiredLocked(e) {
			continue
		}
		if e.target == nil {
			continue // not bound in this process yet: renewed once a run binds it
		}
		due := !now.Before(e.next)
		switch {
		case e.rec.ID == "" && due, e.want == sdk.LifecycleRecreate,
			e.rec.ID != "" && e.rec.URL != m.base+notifyPath(e.provider, e.rec.Token):
			m.start(ctx, e, m.create)
		case e.rec.ID != "" && (due || e.want == sdk.LifecycleRenew):
			m.start(ctx, e, m.renew)
		default:
			later(e.next)
		}
	}
	return next
}

// start runs one piece of work on e in the background. m.mu is held.
func (m *Manager) start(ctx context.Context, e *entry, work func(ctx context.Context, e *entry)) {
	e.busy = true
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case m.sem <- struct{}{}:
		case <-ctx.Done():
			m.mu.Lock()
			e.busy = false
			m.mu.Unlock()
			return
		}
		defer func() { <-m.sem }()
		cctx, cancel := context.WithTimeout(ctx, m.opts.CallTimeout)
		defer cancel()
		work(cctx, e)
		m.mu.Lock()
		e.busy = false
		m.mu.Unlock()
		m.wakeLoop()
	}()
}

// target returns e's target for a call, instance-wide when its provider
// subscribes per instance.
func (m *Manager) target(ctx context.Context, e *entry) (sdk.Target, sdk.Pusher, error) {
	m.mu.Lock()
	tf := e.target
	m.mu.Unlock()
	if tf == nil {
		return sdk.Target{}, nil, errors.New("no link bound to it in this process")
	}
	t, err := tf(ctx)
	if err != nil {
		return sdk.Target{}, nil, fmt.Errorf("credentials: %w", err)
	}
	t.Account = e.account
	p, err := m.opts.Pushers(e.provider)
	if err != nil {
		return sdk.Target{}, nil, err
	}
	return t, p, nil
}

// fail records a failed call on e and schedules the retry.
func (m *Manager) fail(e *entry, what string, err error, recs ...state.PushSubscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if errors.Is(err, sdk.ErrUnsupported) {
		if !m.noPush[e.provider] {
			m.log.Info("the provider has no push notifications; its links are polled", "provider", e.provider)
		}
		m.noPush[e.provider] = true
		return
	}
	e.failures++
	wait := m.backoff(e.failures)
	e.next = m.opts.Clock.Now().Add(wait)
	m.log.Warn("push subscription: "+what+" failed; links are polled meanwhile", "provider", e.provider,
		"instance", e.instance, "account", e.account, "failures", e.failures, "retry_in", wait, "err", redact(err, recs...))
}

// create makes a new subscription for e (its first, or one replacing a lost
// or moved one) and wakes its links once it exists.
func (m *Manager) create(ctx context.Context, e *entry) {
	token, err := m.newSecret()
	if err == nil {
		var secret string
		if secret, err = m.newSecret(); err == nil {
			m.createWith(ctx, e, token, secret)
			return
		}
	}
	m.fail(e, "create", err)
}

func (m *Manager) createWith(ctx context.Context, e *entry, token, secret string) {
	m.mu.Lock()
	rec := state.PushSubscription{Token: token, Provider: e.provider, Instance: e.instance, Account: e.account,
		URL: m.base + notifyPath(e.provider, token), Secret: secret}
	pending := rec // the handler reads it; rec goes on changing here
	e.pending = &pending
	m.tokens[token] = e
	m.mu.Unlock()

	drop := func() {
		m.mu.Lock()
		e.pending = nil
		delete(m.tokens, token)
		m.mu.Unlock()
	}
	t, p, err := m.target(ctx, e)
	if err != nil {
		drop()
		m.fail(e, "create", err, rec)
		return
	}
	now := m.opts.Clock.Now()
	sub, err := p.Watch(ctx, t, sdk.WatchRequest{URL: rec.URL, Secret: secret, Expiry: now.Add(m.opts.Lifetime)})
	if err == nil && sub.ID == "" {
		err = errors.New("the provider returned a subscription without an id")
	}
	if err != nil {
		drop()
		m.fail(e, "create", err, rec)
		return
	}
	rec.ID, rec.ResourceID, rec.Expires, rec.Extra = sub.ID, sub.ResourceID, sub.Expires, sub.Extra
	rec.Obtained = m.opts.Clock.Now()

	m.mu.Lock()
	rec.Links = m.linksOfLocked(e)
	old := e.rec
	e.rec, e.pending = rec, nil
	if old.Token != "" {
		e.stale = append(e.stale, old)
	}
	e.failures, e.want = 0, ""
	e.next = m.renewAt(rec)
	links := slices.Clone(rec.Links)
	m.mu.Unlock()

	if err := m.opts.Store.PutPushSubscription(ctx, rec); err != nil {
		m.log.Error("cannot store a push subscription; it is made again after a restart", "provider", e.provider, "instance", e.instance, "err", err)
	}
	m.log.Info("push subscription created", "provider", e.provider, "instance", e.instance, "account", e.account,
		"expires", rec.Expires, "links", len(links))
	// Whatever changed before the subscription existed is read now.
	for _, id := range links {
		m.opts.Wake(id)
	}
}

// renew extends e's subscription (or lets the provider repair or replace it).
func (m *Manager) renew(ctx context.Context, e *entry) {
	m.mu.Lock()
	rec := e.rec
	m.mu.Unlock()
	t, p, err := m.target(ctx, e)
	if err != nil {
		m.fail(e, "renewal", err, rec)
		return
	}
	now := m.opts.Clock.Now()
	sub, err := p.Watch(ctx, t, sdk.WatchRequest{URL: rec.URL, Secret: rec.Secret, Expiry: now.Add(m.opts.Lifetime), Current: subscriptionOf(rec)})
	if err == nil && sub.ID == "" {
		err = errors.New("the provider returned a subscription without an id")
	}
	if err != nil {
		m.fail(e, "renewal", err, rec)
		return
	}
	next := rec
	next.ID, next.ResourceID, next.Expires, next.Extra = sub.ID, sub.ResourceID, sub.Expires, sub.Extra
	next.Obtained = m.opts.Clock.Now()
	m.mu.Lock()
	next.Links = m.linksOfLocked(e)
	if e.rec.Token == rec.Token {
		e.rec = next
	}
	if sub.ID != rec.ID {
		// A new subscription at the same URL: the old one is removed, with
		// the same token it still routes until then.
		old := rec
		old.Token = "" // not a separate record
		e.stale = append(e.stale, old)
	}
	e.failures, e.want = 0, ""
	e.next = m.renewAt(next)
	m.mu.Unlock()
	if err := m.opts.Store.PutPushSubscription(ctx, next); err != nil {
		m.log.Error("cannot store a renewed push subscription", "provider", e.provider, "instance", e.instance, "err", err)
	}
	m.log.Debug("push subscription renewed", "provider", e.provider, "instance", e.instance, "account", e.account, "expires", next.Expires, "replaced", sub.ID != rec.ID)
}

// dropStale removes replaced subscriptions at the service and from the store.
func (m *Manager) dropStale(ctx context.Context, e *entry) {
	m.mu.Lock()
	stale := e.stale
	e.stale = nil
	m.mu.Unlock()
	t, p, terr := m.target(ctx, e)
	for _, r := range stale {
		if r.ID != "" && terr == nil {
			if err := p.Unwatch(ctx, t, subscriptionOf(r)); err != nil && !errors.Is(err, sdk.ErrNotFound) {
				m.log.Warn("cannot remove a replaced push subscription; it ends by itself", "provider", e.provider, "instance", e.instance, "err", redact(err, r))
			}
		}
		if r.Token == "" {
			continue // a former id at the current record's URL
		}
		if err := m.opts.Store.DeletePushSubscription(ctx, r.Token); err != nil {
			m.log.Error("cannot delete a stored push subscription", "err", err)
		}
		m.mu.Lock()
		if m.tokens[r.Token] == e && e.rec.Token != r.Token && (e.pending == nil || e.pending.Token != r.Token) {
			delete(m.tokens, r.Token)
		}
		m.mu.Unlock()
	}
}

// remove ends e's subscriptions: no link of the configuration wants them.
func (m *Manager) remove(ctx context.Context, e *entry) {
	m.mu.Lock()
	recs := append([]state.PushSubscription{e.rec}, e.stale...)
	m.mu.Unlock()
	var t sdk.Target
	var p sdk.Pusher
	terr := errors.New("nothing to remove at the service")
	if slices.ContainsFunc(recs, func(r state.PushSubscription) bool { return r.ID != "" }) {
		t, p, terr = m.target(ctx, e)
	}
	for _, r := range recs {
		if r.ID != "" {
			switch {
			case terr != nil:
				m.log.Info("push subscription forgotten without removing it at the service (no credentials); it ends by itself",
					"provider", e.provider, "instance", e.instance, "account", e.account)
			default:
				if err := p.Unwatch(ctx, t, subscriptionOf(r)); err != nil && !errors.Is(err, sdk.ErrNotFound) {
					m.log.Warn("cannot remove a push subscription; it ends by itself", "provider", e.provider, "instance", e.instance, "err", redact(err, r))
				}
			}
		}
		if r.Token != "" {
			if err := m.opts.Store.DeletePushSubscription(ctx, r.Token); err != nil {
				m.log.Error("cannot delete a stored push subscription", "err", err)
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		if r.Token != "" && m.tokens[r.Token] == e {
			delete(m.tokens, r.Token)
		}
	}
	if recs[0].ID != "" {
		m.log.Info("push subscription removed", "provider", e.provider, "instance", e.instance, "account", e.account)
	}
	e.rec, e.stale, e.want, e.failures, e.next = state.PushSubscription{}, nil, "", 0, time.Time{}
	if !m.claimedLocked(e) && e.pending == nil {
		delete(m.entries, e.key)
	}
	// Bound again meanwhile: the loop makes a new one.
}
