// Package memory is a calendar provider that keeps everything in memory. It serves
// three purposes: the sync engine's tests use it in-process as a fully controllable
// calendar system (out-of-band edits, expired cursors, injected faults); it is the
// example external plugin (cmd/synchronizer-plugin-memory) that shows how little a
// third-party provider needs; and it is the reference the conformance suite
// (plugins/providertest) is checked against.
//
// Behaviour, as a real service would show it:
//   - Instances and accounts spring into existence on first use; each (instance,
//     account, calendar) is one calendar.
//   - Ids are deterministic ("mem-000001", per calendar in creation order; an
//     exception is "<master id>_<original start in UTC>"), versions are opaque and
//     change on every write, instants are stored in UTC.
//   - Cursors are opaque sequence numbers: an empty cursor reads the whole window
//     (Full), later cursors return what changed since, deletes as Removed. Writes made
//     through the Provider interface are changes too, as a real service echoes them.
//   - Deleting a master deletes its exceptions; deleting an exception cancels its
//     occurrence (an EXDATE line on the master).
//   - Update and Delete honour the version precondition.
//
// Faults are injected with SetHook; cursors expire with ExpireCursors; a required
// token (RequireToken) turns other credentials into sdk.ErrUnauthenticated.
//
// Push (push.go): Watch subscribes to a calendar after a validation handshake
// with the host's URL, and every write to it POSTs a signed notification there;
// DropNotifications, ExpireSubscriptions, Lifecycle and PutUnannounced lose
// notifications, subscriptions and changes on purpose.
package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/sdk"
)

// Name is the provider's plugin name.
const Name = "memory"

// DefaultPageSize is the page size of ListChanges when the request gives none.
const DefaultPageSize = 50

// Hook is called before and after every provider method; see SetHook.
type Hook func(ctx context.Context, op string, t sdk.Target, phase string) error

// Provider is an in-memory sdk.Provider. The zero value is not usable; call New.
type Provider struct {
	mu        sync.Mutex
	calendars map[calKey]*calendar
	settings  map[string]map[string]string
	accounts  map[string][]sdk.Account // by instance
	licenses  map[string]sdk.Licenses  // by instance
	tokens    map[string]string        // required token by instance; "*" for every instance
	faults    map[string]*faults       // by instance, from settings
	epoch     uint64
	hook      Hook
	now       func() time.Time
	push      pushState // push.go
}

var _ sdk.Provider = (*Provider)(nil)

// New returns an empty provider whose clock is time.Now.
func New() *Provider {
	return &Provider{
		calendars: map[calKey]*calendar{},
		settings:  map[string]map[string]string{},
		accounts:  map[string][]sdk.Account{},
		licenses:  map[string]sdk.Licenses{},
		tokens:    map[string]string{},
		faults:    map[string]*faults{},
		now:       time.Now,
	}
}

// SetClock replaces the clock that stamps Created and Updated (nil = time.Now).
func (p *Provider) SetClock(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	p.now = now
}

// SetHook installs fault injection: h is called before ("before") and after
// ("after") every provider method with the method name ("Info", "Configure",
// "OAuth", "Identify", "LookupAccount", "Licenses", "ListChanges", "Get", "Create",
// "Update", "Delete", "FindByCorrelation"). A non-nil error from "before" is
// returned without doing anything; a non-nil error from "after" is returned although
// the operation took effect (a lost response). h runs without any lock held, so it
// may block (until ctx is done) or call the provider. nil removes the hook.
func (p *Provider) SetHook(h func(ctx context.Context, op string, t sdk.Target, phase string) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = h
}

// ExpireCursors makes every cursor issued so far yield sdk.ErrFullSyncRequired.
func (p *Provider) ExpireCursors() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch++
}

// RequireToken makes calls on instance whose credential is not token fail with
// sdk.ErrUnauthenticated; instance "*" applies to every instance without a token of
// its own. An empty token accepts any credential again.
func (p *Provider) RequireToken(instance, token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if token == "" {
		delete(p.tokens, instance)
		return
	}
	p.tokens[instance] = token
}

// AddAccount registers an account of instance for LookupAccount and Identify.
func (p *Provider) AddAccount(instance string, a sdk.Account) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accounts[instance] = append(p.accounts[instance], a)
}

// SetLicenses sets the licence count Licenses reports for instance.
func (p *Provider) SetLicenses(instance string, l sdk.Licenses) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.licenses[instance] = l
}

// Settings returns a copy of what Configure last received for instance (nil when
// never configured).
func (p *Provider) Settings(instance string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.settings[instance]
	if !ok {
		return nil
	}
	return maps.Clone(s)
}

// Calendar returns the default calendar of account on instance, creating it empty on
// first use.
func (p *Provider) Calendar(instance, account string) *Calendar {
	return p.CalendarOf(sdk.Target{Instance: instance, Account: account})
}

// CalendarOf returns the calendar a target names (its Calendar field included).
func (p *Provider) CalendarOf(t sdk.Target) *Calendar {
	k := calKey{t.Instance, t.Account, t.Calendar}
	p.mu.Lock()
	p.cal(k)
	p.mu.Unlock()
	return &Calendar{p: p, key: k}
}

// cal returns the calendar k, creating it. p.mu must be held.
func (p *Provider) cal(k calKey) *calendar {
	c, ok := p.calendars[k]
	if !ok {
		c = newCalendar(k)
		c.changed = func() { p.changedLocked(k) }
		p.calendars[k] = c
	}
	return c
}

// call runs op between the hook's two phases, after the context and credential
// checks a real service's front door would make.
func (p *Provider) call(ctx context.Context, op string, t sdk.Target, checkAuth bool, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory %s: %w", op, err)
	}
	p.mu.Lock()
	h := p.hook
	p.mu.Unlock()
	if h != nil {
		if err := h(ctx, op, t, "before"); err != nil {
			return err
		}
	}
	if checkAuth {
		if err := p.checkToken(t); err != nil {
			return fmt.Errorf("memory %s: %w", op, err)
		}
		if err := p.injectFaults(ctx, op, t.Instance); err != nil {
			return err
		}
	}
	if err := fn(); err != nil {
		return err
	}
	if h != nil {
		if err := h(ctx, op, t, "after"); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) checkToken(t sdk.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	want, ok := p.tokens[t.Instance]
	if !ok {
		want, ok = p.tokens["*"]
	}
	if ok && t.Credential.Token != want {
		return sdk.ErrUnauthenticated
	}
	return nil
}

// Info implements sdk.Provider.
func (p *Provider) Info(ctx context.Context) (sdk.Info, error) {
	var info sdk.Info
	err := p.call(ctx, "Info", sdk.Target{}, false, func() error {
		info = sdk.Info{
			Name:            Name,
			ProtocolVersion: sdk.ProtocolVersion,
			Capabilities: sdk.Capabilities{
				IncrementalChanges: true,
				Recurrence:         true,
				CorrelationLookup:  true,
				Directory:          true,
				Licenses:           true,
				Push:               true,
			},
		}
		return nil
	})
	return info, err
}

// Configure implements sdk.Provider. The memory provider needs no setting; it keeps
// what it gets (Settings). A few settings control it, so that a test can steer a
// memory plugin running in its own process:
//
//	user_licenses         the licence count Licenses reports
//	token                 the only credential token accepted on the instance
//	delay                 a Go duration every calendar call waits first (cancellable)
//	throttle_next         the next N calendar calls fail with *sdk.ThrottledError
//	throttle_retry_after  the retry hint of those (Go duration, default 1s)
//	expire_cursors        "true": every cursor issued so far expires now
func (p *Provider) Configure(ctx context.Context, instance string, settings map[string]string) error {
	return p.call(ctx, "Configure", sdk.Target{Instance: instance}, false, func() error {
		if instance == "" {
			return fmt.Errorf("configure memory: empty instance name: %w", sdk.ErrInvalidArgument)
		}
		f, err := parseFaults(instance, settings)
		if err != nil {
			return err
		}
		var lic *sdk.Licenses
		if v, ok := settings["user_licenses"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("configure memory instance %s: user_licenses %q is not a count: %w", instance, v, sdk.ErrInvalidArgument)
			}
			lic = &sdk.Licenses{UserLicenses: n}
		}
		cp := maps.Clone(settings)
		if cp == nil {
			cp = map[string]string{}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.settings[instance] = cp
		if lic != nil {
			p.licenses[instance] = *lic
		}
		if tok, ok := settings["token"]; ok {
			if tok == "" {
				delete(p.tokens, instance)
			} else {
				p.tokens[instance] = tok
			}
		}
		p.faults[instance] = f
		if settings["expire_cursors"] == "true" {
			p.epoch++
		}
		return nil
	})
}

// OAuth implements sdk.Provider: by default the memory provider needs no token
// (GrantNone). Settings "auth_url" and "token_url" turn on an authorization-code
// flow against them (with "client_id", "client_secret" and space-separated
// "scopes"), for tests of the host's consent flow.
func (p *Provider) OAuth(ctx context.Context, req sdk.OAuthRequest) (sdk.OAuthSpec, error) {
	var spec sdk.OAuthSpec
	err := p.call(ctx, "OAuth", sdk.Target{Instance: req.Instance}, false, func() error {
		p.mu.Lock()
		s := p.settings[req.Instance]
		p.mu.Unlock()
		if s["auth_url"] == "" || s["token_url"] == "" {
			spec = sdk.OAuthSpec{Grant: sdk.GrantNone}
			return nil
		}
		spec = sdk.OAuthSpec{
			Grant:        sdk.GrantAuthorizationCode,
			AuthURL:      s["auth_url"],
			TokenURL:     s["token_url"],
			ClientID:     s["client_id"],
			ClientSecret: s["client_secret"],
			Scopes:       strings.FieldsFunc(s["scopes"], func(r rune) bool { return r == ' ' || r == ',' }),
			PKCE:         true,
		}
		if req.LoginHint != "" {
			spec.Params = map[string]string{"login_hint": req.LoginHint}
		}
		return nil
	})
	return spec, err
}

// Identify implements sdk.Provider: the account is tok.Extra["account"] when the
// token response named one, else the target's account.
func (p *Provider) Identify(ctx context.Context, t sdk.Target, tok sdk.TokenInfo) (sdk.Account, error) {
	var acc sdk.Account
	err := p.call(ctx, "Identify", t, false, func() error {
		key := tok.Extra["account"]
		if key == "" {
			key = t.Account
		}
		if key == "" {
			return fmt.Errorf("identify memory account: no account in token or target: %w", sdk.ErrInvalidArgument)
		}
		acc = p.lookup(t.Instance, sdk.AccountUser, key)
		return nil
	})
	return acc, err
}

// LookupAccount implements sdk.Provider. Registered accounts (AddAccount) are
// matched by id, email or name; any other key names an account that springs into
// existence with that id.
func (p *Provider) LookupAccount(ctx context.Context, t sdk.Target, kind sdk.AccountKind, key string) (sdk.Account, error) {
	var acc sdk.Account
	err := p.call(ctx, "LookupAccount", t, true, func() error {
		if key == "" {
			return fmt.Errorf("look up memory account: empty key: %w", sdk.ErrInvalidArgument)
		}
		acc = p.lookup(t.Instance, kind, key)
		return nil
	})
	return acc, err
}

func (p *Provider) lookup(instance string, kind sdk.AccountKind, key string) sdk.Account {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.accounts[instance] {
		if a.ID == key || a.Email == key || a.Name == key {
			a.Extra = maps.Clone(a.Extra)
			return a
		}
	}
	if kind == "" {
		kind = sdk.AccountUser
	}
	a := sdk.Account{ID: key, Name: key, Kind: kind}
	if strings.Contains(key, "@") {
		a.Email = key
	}
	return a
}

// Licenses implements sdk.Provider: the count set with SetLicenses or the
// "user_licenses" setting, else sdk.ErrUnsupported.
func (p *Provider) Licenses(ctx context.Context, t sdk.Target) (sdk.Licenses, error) {
	var lic sdk.Licenses
	err := p.call(ctx, "Licenses", t, true, func() error {
		p.mu.Lock()
		l, ok := p.licenses[t.Instance]
		p.mu.Unlock()
		if !ok {
			return fmt.Errorf("licences of memory instance %s: none set: %w", t.Instance, sdk.ErrUnsupported)
		}
		lic = l
		return nil
	})
	return lic, err
}

// ListChanges implements sdk.Provider.
func (p *Provider) ListChanges(ctx context.Context, t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	var out sdk.Changes
	err := p.call(ctx, "ListChanges", t, true, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		var err error
		out, err = p.listChanges(t, req)
		return err
	})
	return out, err
}

func (p *Provider) listChanges(t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	k := calKey{t.Instance, t.Account, t.Calendar}
	cal := p.cal(k)
	size := req.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	cur := cursor{Epoch: p.epoch, Cal: keyHash(k), Since: cal.seq, Full: true}
	if req.Cursor != "" {
		c, err := decodeCursor(req.Cursor)
		if err != nil {
			return sdk.Changes{}, fmt.Errorf("list changes of %s: %w: %w", t.Account, sdk.ErrFullSyncRequired, err)
		}
		if c.Epoch != p.epoch || c.Cal != cur.Cal || c.Since > cal.seq {
			return sdk.Changes{}, fmt.Errorf("list changes of %s: %w", t.Account, sdk.ErrFullSyncRequired)
		}
		cur = c
	}
	if cur.Full {
		return cal.fullPage(cur, req.Window, size), nil
	}
	return cal.changesPage(cur, req.Window, size), nil
}

// fullPage lists the window in id order after cur.After.
func (cal *calendar) fullPage(cur cursor, w sdk.Window, size int) sdk.Changes {
	out := sdk.Changes{Full: true}
	ids := cal.sortedIDs()
	i, _ := slices.BinarySearch(ids, cur.After)
	if i < len(ids) && ids[i] == cur.After {
		i++
	}
	for ; i < len(ids) && len(out.Events) < size; i++ {
		ev := cal.events[ids[i]].ev
		if inWindow(ev, w) {
			out.Events = append(out.Events, cloneEvent(ev))
			cur.After = ids[i]
		}
	}
	// Skip what is outside the window, so More is only set when something follows.
	for ; i < len(ids) && !inWindow(cal.events[ids[i]].ev, w); i++ {
	}
	if i < len(ids) {
		out.More = true
		out.Cursor = cur.encode()
		return out
	}
	out.Cursor = cursor{Epoch: cur.Epoch, Cal: cur.Cal, Since: cur.Since}.encode()
	return out
}

// changesPage lists what changed after cur.Since in sequence order: live items
// inside the window in full, deleted ids in Removed. Changes outside the window are
// passed over.
func (cal *calendar) changesPage(cur cursor, w sdk.Window, size int) sdk.Changes {
	type change struct {
		seq     uint64
		id      string
		removed bool
	}
	var all []change
	for id, s := range cal.events {
		if s.seq > cur.Since {
			all = append(all, change{s.seq, id, false})
		}
	}
	for id, seq := range cal.removed {
		if seq > cur.Since {
			all = append(all, change{seq, id, true})
		}
	}
	slices.SortFunc(all, func(a, b change) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	var out sdk.Changes
	n := 0
	i := 0
	for ; i < len(all) && n < size; i++ {
		c := all[i]
		cur.Since = c.seq
		if c.removed {
			out.Removed = append(out.Removed, c.id)
			n++
			continue
		}
		if ev := cal.events[c.id].ev; inWindow(ev, w) {
			out.Events = append(out.Events, cloneEvent(ev))
			n++
		}
	}
	out.More = i < len(all)
	out.Cursor = cur.encode()
	return out
}

// Get implements sdk.Provider.
func (p *Provider) Get(ctx context.Context, t sdk.Target, id string) (sdk.Event, error) {
	var ev sdk.Event
	err := p.call(ctx, "Get", t, true, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		s, ok := p.cal(calKey{t.Instance, t.Account, t.Calendar}).events[id]
		if !ok {
			return fmt.Errorf("get event %s of %s: %w", id, t.Account, sdk.ErrNotFound)
		}
		ev = cloneEvent(s.ev)
		return nil
	})
	return ev, err
}

// Create implements sdk.Provider. The id is the provider's: a given ev.ID is
// ignored. An exception needs an existing master (ev.SeriesID) and ev.OriginalStart;
// creating an exception of an occurrence that already has one replaces it, as
// patching an occurrence does on a real service.
func (p *Provider) Create(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	var out sdk.Event
	err := p.call(ctx, "Create", t, true, func() error {
		if err := validate(ev); err != nil {
			return fmt.Errorf("create event in %s: %w", t.Account, err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		cal := p.cal(calKey{t.Instance, t.Account, t.Calendar})
		ev.ID = ""
		if ev.Kind == sdk.KindException {
			m, ok := cal.events[ev.SeriesID]
			if !ok || m.ev.Kind != sdk.KindMaster {
				return fmt.Errorf("create exception in %s: series %s: %w", t.Account, ev.SeriesID, sdk.ErrNotFound)
			}
		}
		out = cal.put(ev, p.now())
		return nil
	})
	return out, err
}

// Update implements sdk.Provider. Fields left empty in ev are written empty; only
// the correlation id is kept when ev carries none.
func (p *Provider) Update(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	var out sdk.Event
	err := p.call(ctx, "Update", t, true, func() error {
		if ev.ID == "" {
			return fmt.Errorf("update event in %s: no id: %w", t.Account, sdk.ErrInvalidArgument)
		}
		if err := validate(ev); err != nil {
			return fmt.Errorf("update event %s in %s: %w", ev.ID, t.Account, err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		cal := p.cal(calKey{t.Instance, t.Account, t.Calendar})
		old, ok := cal.events[ev.ID]
		if !ok {
			return fmt.Errorf("update event %s in %s: %w", ev.ID, t.Account, sdk.ErrNotFound)
		}
		if ev.Version != "" && ev.Version != old.ev.Version {
			return fmt.Errorf("update event %s in %s (have %s, stored %s): %w", ev.ID, t.Account, ev.Version, old.ev.Version, sdk.ErrPreconditionFailed)
		}
		if ev.CorrelationID == "" {
			ev.CorrelationID = old.ev.CorrelationID
		}
		out = cal.put(ev, p.now())
		return nil
	})
	return out, err
}

// Delete implements sdk.Provider.
func (p *Provider) Delete(ctx context.Context, t sdk.Target, id, version string) error {
	return p.call(ctx, "Delete", t, true, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		cal := p.cal(calKey{t.Instance, t.Account, t.Calendar})
		old, ok := cal.events[id]
		if !ok {
			return nil
		}
		if version != "" && version != old.ev.Version {
			return fmt.Errorf("delete event %s in %s (have %s, stored %s): %w", id, t.Account, version, old.ev.Version, sdk.ErrPreconditionFailed)
		}
		cal.remove(id, p.now())
		return nil
	})
}

// FindByCorrelation implements sdk.Provider.
func (p *Provider) FindByCorrelation(ctx context.Context, t sdk.Target, correlationID string) ([]sdk.Event, error) {
	var out []sdk.Event
	err := p.call(ctx, "FindByCorrelation", t, true, func() error {
		if correlationID == "" {
			return fmt.Errorf("find by correlation in %s: empty id: %w", t.Account, sdk.ErrInvalidArgument)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		cal := p.cal(calKey{t.Instance, t.Account, t.Calendar})
		for _, id := range cal.sortedIDs() {
			if ev := cal.events[id].ev; ev.CorrelationID == correlationID {
				out = append(out, cloneEvent(ev))
			}
		}
		return nil
	})
	return out, err
}

// validate refuses what no calendar service would store.
func validate(ev sdk.Event) error {
	switch ev.Kind {
	case "", sdk.KindSingle, sdk.KindMaster:
	case sdk.KindException:
		if ev.SeriesID == "" || ev.OriginalStart.IsZero() {
			return fmt.Errorf("exception without series id or original start: %w", sdk.ErrInvalidArgument)
		}
	default:
		return fmt.Errorf("unknown kind %q: %w", ev.Kind, sdk.ErrInvalidArgument)
	}
	if ev.Start.IsZero() || ev.End.IsZero() {
		return fmt.Errorf("event without start or end: %w", sdk.ErrInvalidArgument)
	}
	if ev.End.Before(ev.Start) {
		return fmt.Errorf("event ends (%s) before it starts (%s): %w", ev.End.Format(time.RFC3339), ev.Start.Format(time.RFC3339), sdk.ErrInvalidArgument)
	}
	if ev.TimeZone != "" && !ev.AllDay {
		if _, err := time.LoadLocation(ev.TimeZone); err != nil {
			return fmt.Errorf("time zone %q: %w", ev.TimeZone, sdk.ErrInvalidArgument)
		}
	}
	if ev.Kind != sdk.KindMaster && len(ev.Recurrence) > 0 {
		return fmt.Errorf("recurrence on a %s event: %w", ev.Kind, sdk.ErrInvalidArgument)
	}
	return nil
}

// faults are the per-instance fault settings.
type faults struct {
	delay        time.Duration
	throttleLeft int
	retryAfter   time.Duration
}

func parseFaults(instance string, settings map[string]string) (*faults, error) {
	f := &faults{retryAfter: time.Second}
	dur := func(key string, dst *time.Duration) error {
		v, ok := settings[key]
		if !ok || v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("configure memory instance %s: %s %q is not a duration: %w", instance, key, v, sdk.ErrInvalidArgument)
		}
		*dst = d
		return nil
	}
	if err := dur("delay", &f.delay); err != nil {
		return nil, err
	}
	if err := dur("throttle_retry_after", &f.retryAfter); err != nil {
		return nil, err
	}
	if v, ok := settings["throttle_next"]; ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("configure memory instance %s: throttle_next %q is not a count: %w", instance, v, sdk.ErrInvalidArgument)
		}
		f.throttleLeft = n
	}
	return f, nil
}

// injectFaults applies the instance's configured delay and throttling to one call.
func (p *Provider) injectFaults(ctx context.Context, op, instance string) error {
	p.mu.Lock()
	f := p.faults[instance]
	var delay time.Duration
	var throttle *sdk.ThrottledError
	if f != nil {
		delay = f.delay
		if f.throttleLeft > 0 {
			f.throttleLeft--
			throttle = &sdk.ThrottledError{RetryAfter: f.retryAfter, Reason: "memory throttle_next"}
		}
	}
	p.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("memory %s: %w", op, ctx.Err())
		case <-timer.C:
		}
	}
	if throttle != nil {
		return fmt.Errorf("memory %s: %w", op, throttle)
	}
	return nil
}
