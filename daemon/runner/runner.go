package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/push"
	"synchronizer/daemon/scheduler"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/plugins/sdk"
)

// Plugins returns the provider serving a provider name ("superoffice", "m365",
// "google", an external plugin's name). cmd binds it to the plugin host.
type Plugins func(provider string) (sdk.Provider, error)

// Options are a Runner's dependencies and tunables.
type Options struct {
	// Plugins, Store, SyncStore and Credentials are required.
	Plugins     Plugins
	Store       state.Store
	SyncStore   engine.Store
	Credentials Credentials
	// Activations issues activation links; nil leaves links waiting for consent
	// without one.
	Activations Activations
	// Metrics are fed with runs, items and conflicts (nil: none).
	Metrics *telemetry.Metrics
	Logger  *slog.Logger
	// Now is the clock of the engine and of the link rows (time.Now when nil).
	Now func() time.Time
	// Clock and Rand drive the scheduler (wall clock and a random seed when nil).
	Clock scheduler.Clock
	Rand  *rand.Rand
	// Engine tunes the engine; its Store, Logger, Observer and Now are the runner's.
	Engine engine.Config
	// Scheduler tunes the scheduler; its Run, Clock, Rand and Logger are the
	// runner's. MaxConcurrent defaults to DefaultMaxConcurrent and Limits to
	// DefaultLimits.
	Scheduler scheduler.Config
	// RequestLimits bound the requests in flight to one provider instance, by
	// provider name (nil: DefaultRequestLimits; a provider not named: no bound).
	RequestLimits map[string]int
	// MemoryLimit is the Go heap's soft limit set at New unless the environment
	// sets GOMEMLIMIT (0: DefaultMemoryLimit; negative: left alone, and runs
	// start as the limits allow, whatever the heap holds).
	MemoryLimit int64
	// ConfigureWait bounds how long Apply waits for the plugins to take their
	// settings before it returns (they go on in the background). [15s]
	ConfigureWait time.Duration
	// NoPush turns push notifications off whatever the configuration says.
	NoPush bool
	// Push tunes the push manager (push.go); its Store, Pushers, Wake, Logger and
	// Clock are the runner's.
	Push push.Options
}

// DefaultLimits bound concurrent runs per concurrency key class. A run makes one
// request at a time, so four runs on one mailbox stay within the four concurrent
// requests Microsoft allows per mailbox. Runs spend most of their time waiting
// for the services (Google paces each calendar to its 600 requests a minute, so
// an initial sync of a few hundred items there lasts a minute or more), so many
// run at once: DefaultMaxConcurrent in all, at most 224 of them on one
// provider instance, which leaves room for another tenant's links. What a run holds
// while it waits is small (the engine lets go of each item once it is
// written), and DefaultMemoryLimit keeps the heap in bounds. The requests a
// SuperOffice tenant gets at once are bounded apart from the runs
// (DefaultRequestLimits). The links of one SuperOffice diary (a person linked
// in two profiles) run one at a time: a create in the diary is the appointment
// and then its mark, and another link listing the diary between the two would
// take our own copy for the person's appointment.
func DefaultLimits() map[string]int {
	return map[string]int{"provider": 224, "mailbox": 4, "diary": 1}
}

// DefaultMaxConcurrent bounds the runs in progress at once. Below it, a run
// starts only while the Go heap's live part is under half of the memory limit
// (admit): runs that wait on a service's pace hold little, an initial sync of
// a large calendar a lot, and the heap tells the two apart where a count of
// runs cannot.
const DefaultMaxConcurrent = 256

// DefaultRequestLimits bound the requests in flight at once to one provider
// instance, by provider: SuperOffice publishes no rate limits and asks apps to
// keep their concurrency per tenant modest, so a tenant gets at most 24 at once
// however many runs are under way (as many as runs used to be allowed). The
// calendars' own limits are kept by the run limits (a mailbox's four) and by
// their plugins (Google's pace per calendar).
func DefaultRequestLimits() map[string]int {
	return map[string]int{config.ProviderSuperOffice: 24}
}

// DefaultMemoryLimit is the soft limit of the daemon's Go heap (see
// debug.SetMemoryLimit) unless GOMEMLIMIT is set: beyond it the garbage
// collector works harder instead of letting the heap grow, which keeps the
// daemon inside 300 MB while hundreds of runs hold their items. Below it the
// collector runs at GOGC 200 (unless GOGC is set): a small heap is collected
// half as often, a large one as the limit requires.
const DefaultMemoryLimit = 220 << 20

// gcPercent is the collector's GOGC under DefaultMemoryLimit (unless GOGC is
// set).
const gcPercent = 200

// Runner runs the links of the configuration in force. Create it with New, plug
// it into the agent (SetRunner, SetLicenseSource) and mount Routes on the admin
// listener.
type Runner struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	eng   *engine.Engine
	sched *scheduler.Scheduler

	ctx       context.Context // lives until Close
	cancel    context.CancelFunc
	schedDone chan struct{}
	bg        sync.WaitGroup

	mu        sync.RWMutex
	cfg       *config.Config
	allowed   map[state.LinkID]bool
	links     map[state.LinkID]*linkEntry
	instances map[string]*instance
	accounts  map[accountKey]sdk.Account
	closed    bool

	// meetings.go
	meet meetingState

	// push.go
	push   *push.Manager
	waker  waker
	capsMu sync.Mutex
	caps   map[string]sdk.Capabilities

	slotsMu     sync.Mutex
	slots       map[string]chan struct{} // request slots by instance (side.go)
	reconcileMu sync.Mutex
	reconcile   map[string]time.Duration // pair key -> reconcile period
}

// linkEntry is what the runner remembers about a scheduled link between runs.
type linkEntry struct {
	mu sync.Mutex
	// recovered is the pair key whose leftover intents were settled.
	recovered string
	// waiting is set while the last run found the link waiting for consent.
	waiting atomic.Bool
}

type accountKey struct {
	instance string
	kind     sdk.AccountKind
	key      string
}

// New builds a runner. Nothing runs before Apply.
func New(opts Options) (*Runner, error) {
	switch {
	case opts.Plugins == nil:
		return nil, errors.New("runner: no plugins")
	case opts.Store == nil:
		return nil, errors.New("runner: no state store")
	case opts.SyncStore == nil:
		return nil, errors.New("runner: no sync store")
	case opts.Credentials == nil:
		return nil, errors.New("runner: no credentials")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ConfigureWait <= 0 {
		opts.ConfigureWait = 15 * time.Second
	}
	if opts.RequestLimits == nil {
		opts.RequestLimits = DefaultRequestLimits()
	}
	if opts.MemoryLimit == 0 {
		opts.MemoryLimit = DefaultMemoryLimit
	}
	if opts.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(opts.MemoryLimit)
		if os.Getenv("GOGC") == "" {
			// Below the limit the heap may grow to three times what is live
			// (fewer collections while it is small); the limit caps it.
			debug.SetGCPercent(gcPercent)
		}
	}
	r := &Runner{
		opts: opts, log: opts.Logger, now: opts.Now,
		allowed:   map[state.LinkID]bool{},
		links:     map[state.LinkID]*linkEntry{},
		instances: map[string]*instance{},
		accounts:  map[accountKey]sdk.Account{},
		schedDone: make(chan struct{}),
		waker:     waker{dirty: map[state.LinkID]bool{}, active: map[state.LinkID]bool{}},
		caps:      map[string]sdk.Capabilities{},
		slots:     map[string]chan struct{}{},
		reconcile: map[string]time.Duration{},
	}
	ecfg := opts.Engine
	if ms, ok := opts.SyncStore.(engine.MeetingStore); ok && ecfg.Meetings == nil {
		ecfg.Meetings = ms
	}
	ecfg.Store = reconcileStore{Store: opts.SyncStore, r: r}
	ecfg.Logger = opts.Logger
	ecfg.Now = opts.Now
	ecfg.Observer = observer{m: opts.Metrics, log: opts.Logger}
	eng, err := engine.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r.eng = eng
	scfg := opts.Scheduler
	scfg.Run = r.runLink
	scfg.Clock = opts.Clock
	scfg.Rand = opts.Rand
	scfg.Logger = opts.Logger
	if scfg.MaxConcurrent <= 0 {
		scfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if scfg.Limits == nil {
		scfg.Limits = DefaultLimits()
	}
	if limit := debug.SetMemoryLimit(-1); scfg.Admit == nil && opts.MemoryLimit > 0 && limit < math.MaxInt64 {
		// The limit in force: ours, or the one GOMEMLIMIT set.
		scfg.Admit = admitBelow(limit / 2)
	}
	sched, err := scheduler.New(scfg)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r.sched = sched
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if err := r.startPush(); err != nil {
		r.cancel()
		return nil, fmt.Errorf("runner: %w", err)
	}
	go func() {
		defer close(r.schedDone)
		sched.Run(r.ctx)
	}()
	return r, nil
}

// Apply implements agent.Runner: it takes the configuration in force and the
// links that may run. Plugin instances get their settings (Apply waits up to
// ConfigureWait for that), resolved accounts are forgotten so that they are
// looked up again, and the scheduler gets the new job list: links that stay keep
// their schedule, new ones start soon, removed ones stop (their pairs are kept).
func (r *Runner) Apply(ctx context.Context, cfg *config.Config, allowed []state.LinkID) error {
	var jobs []scheduler.Job
	var errs []error
	var quiet []state.LinkID // links of profiles with push off
	allow := map[state.LinkID]bool{}
	for _, id := range allowed {
		p := cfg.Profile(id.Profile)
		if p == nil || p.Link(id.Link) == nil {
			errs = append(errs, fmt.Errorf("link %s is not in the configuration", id))
			continue
		}
		so, cal := cfg.Tenant(p.SuperOffice), cfg.Calendar(p.Calendar)
		if so == nil || cal == nil {
			errs = append(errs, fmt.Errorf("profile %s names a block that does not exist", p.Name))
			continue
		}
		allow[id] = true
		if !p.Push {
			quiet = append(quiet, id)
		}
		jobs = append(jobs, scheduler.Job{
			Profile: id.Profile, Link: id.Link, Interval: p.Interval,
			Keys: jobKeys(so, cal, p.Link(id.Link)),
		})
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errors.New("runner: closed")
	}
	removed := r.applyMeetingsLocked(r.cfg, cfg)
	r.cfg = cfg
	r.allowed = allow
	for id := range r.links {
		if !allow[id] {
			delete(r.links, id)
		}
	}
	for id := range allow {
		if r.links[id] == nil {
			r.links[id] = &linkEntry{}
		}
	}
	clear(r.accounts)
	changed := r.setInstancesLocked(cfg)
	r.mu.Unlock()

	if err := r.sched.SetJobs(jobs); err != nil {
		errs = append(errs, fmt.Errorf("schedule links: %w", err))
	}
	publicURL := ""
	if cfg.HTTP.PublicURLSet {
		publicURL = cfg.HTTP.PublicURL
	}
	running := make([]state.LinkID, 0, len(allow))
	for id := range allow {
		running = append(running, id)
	}
	r.applyPush(publicURL, running, quiet)
	r.dropMeetings(ctx, removed)
	r.configureAll(ctx, changed)
	r.log.Info("links applied", "scheduled", len(jobs), "configured", len(cfg.Links()))
	return errors.Join(errs...)
}

// jobKeys are the concurrency keys of a link's runs: both provider instances and
// the mailbox.
func jobKeys(so *config.SuperOffice, cal *config.Calendar, l *config.Link) []string {
	return []string{
		"provider:" + config.ProviderSuperOffice + "/" + so.Name,
		"provider:" + cal.Provider + "/" + cal.Name,
		"mailbox:" + cal.Provider + "/" + cal.Name + "/" + strings.ToLower(l.Mailbox),
		"diary:" + config.ProviderSuperOffice + "/" + so.Name + "/" + strings.ToLower(l.Associate),
	}
}

// Close implements agent.Runner: it stops the schedule and waits (until ctx
// ends) for runs in progress, which see their context cancelled.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	done := make(chan struct{})
	go func() {
		<-r.schedDone
		r.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("runner: runs still in progress at shutdown: %w", ctx.Err())
	}
}

// Ready implements agent.Readiness: every plugin instance the configuration uses
// holds its settings.
func (r *Runner) Ready(ctx context.Context) error {
	r.mu.RLock()
	insts := make([]*instance, 0, len(r.instances))
	for _, in := range r.instances {
		insts = append(insts, in)
	}
	configured := r.cfg != nil
	r.mu.RUnlock()
	if !configured {
		return errors.New("links not started yet")
	}
	slices.SortFunc(insts, func(a, b *instance) int { return strings.Compare(a.name, b.name) })
	var problems []string
	for _, in := range insts {
		if err := r.instanceReady(in); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// SyncSoon asks for a run of one link now, in the background: the consent side
// calls it when a link's consent completes. It does nothing for a link that is
// not scheduled.
func (r *Runner) SyncSoon(profile, link string) {
	r.mu.RLock()
	ok := r.allowed[state.LinkID{Profile: profile, Link: link}] && !r.closed
	if ok {
		r.bg.Add(1)
	}
	r.mu.RUnlock()
	if !ok {
		return
	}
	go func() {
		defer r.bg.Done()
		if _, err := r.sched.RunNow(r.ctx, profile, link, engine.RunOptions{}); err != nil && r.ctx.Err() == nil {
			r.log.Debug("requested sync not run", "profile", profile, "link", link, "err", err)
		}
	}()
}

// SyncBlockSoon asks for a run of every scheduled link that uses a superoffice
// or calendar block, in the background: the consent side calls it when an
// administrator connected that block.
func (r *Runner) SyncBlockSoon(name string) {
	r.mu.RLock()
	var ids []state.LinkID
	if r.cfg != nil {
		for id := range r.allowed {
			if p := r.cfg.Profile(id.Profile); p != nil && (p.SuperOffice == name || p.Calendar == name) {
				ids = append(ids, id)
			}
		}
	}
	r.mu.RUnlock()
	for _, id := range ids {
		r.SyncSoon(id.Profile, id.Link)
	}
}

// RunNow runs one link (or every scheduled link of a profile, link "") now and
// returns each run's result, as the admin routes do.
func (r *Runner) RunNow(ctx context.Context, profile, link string, opts engine.RunOptions) ([]scheduler.LinkResult, error) {
	return r.sched.RunNow(ctx, profile, link, opts)
}

// Status is the scheduler's view of every scheduled link (next run, failures).
func (r *Runner) Status() []scheduler.LinkStatus { return r.sched.Status() }

// bound is one link's configuration, taken at the start of a run.
type bound struct {
	id    state.LinkID
	prof  *config.Profile
	link  *config.Link
	so    *config.SuperOffice
	cal   *config.Calendar
	entry *linkEntry
}

func (r *Runner) bind(profile, link string) (*bound, error) {
	id := state.LinkID{Profile: profile, Link: link}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.cfg == nil || !r.allowed[id] {
		return nil, fmt.Errorf("link %s: %w", id, scheduler.ErrUnknownLink)
	}
	p := r.cfg.Profile(profile)
	b := &bound{id: id, prof: p, link: p.Link(link), so: r.cfg.Tenant(p.SuperOffice), cal: r.cfg.Calendar(p.Calendar), entry: r.links[id]}
	if b.link == nil || b.so == nil || b.cal == nil || b.entry == nil {
		return nil, fmt.Errorf("link %s: %w", id, scheduler.ErrUnknownLink)
	}
	return b, nil
}

func (b *bound) kind() sdk.AccountKind {
	if b.link.Kind == config.KindResource {
		return sdk.AccountResource
	}
	return sdk.AccountUser
}

func (b *bound) policy() engine.Policy {
	return engine.Policy{
		Direction: engine.Direction(b.prof.Direction),
		Conflict:  engine.ConflictPolicy(b.prof.Conflict),
		Private:   engine.PrivatePolicy(b.prof.Private),
		Past:      b.prof.Past,
		Future:    b.prof.Future,
	}
}

// lookup resolves an account through a side, cached until the next Apply.
func (r *Runner) lookup(ctx context.Context, s *side, kind sdk.AccountKind, key string) (sdk.Account, error) {
	k := accountKey{instance: s.base.Instance, kind: kind, key: key}
	r.mu.RLock()
	acc, ok := r.accounts[k]
	r.mu.RUnlock()
	if ok {
		return acc, nil
	}
	acc, err := s.LookupAccount(ctx, kind, key)
	if err != nil {
		return sdk.Account{}, err
	}
	if acc.ID == "" {
		return sdk.Account{}, fmt.Errorf("the provider resolved %q to an account without an id", key)
	}
	r.mu.Lock()
	r.accounts[k] = acc
	r.mu.Unlock()
	return acc, nil
}

// instance is one configured provider instance (a superoffice or calendar block).
type instance struct {
	name, provider string
	want           map[string]string // guarded by Runner.mu

	call sync.Mutex // serialises Configure calls
	mu   sync.Mutex // guards have, err and done
	have map[string]string
	err  error
	done bool // have was accepted at least once
}

// settled reports whether the instance holds want.
func (in *instance) settled(want map[string]string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.done && in.err == nil && maps.Equal(want, in.have)
}

// setInstancesLocked records the settings every block wants and returns the
// instances that do not hold them yet. r.mu must be held.
func (r *Runner) setInstancesLocked(cfg *config.Config) []*instance {
	var names []string
	for _, so := range cfg.SuperOffice {
		names = append(names, so.Name)
	}
	for _, c := range cfg.Calendars {
		names = append(names, c.Name)
	}
	keep := map[string]bool{}
	var changed []*instance
	for _, name := range names {
		provider, settings, ok := cfg.PluginSettings(name)
		if !ok {
			continue
		}
		keep[name] = true
		in := r.instances[name]
		if in == nil || in.provider != provider {
			in = &instance{name: name, provider: provider}
			r.instances[name] = in
		}
		in.want = settings
		if !in.settled(settings) {
			changed = append(changed, in)
		}
	}
	for name := range r.instances {
		if !keep[name] {
			delete(r.instances, name)
		}
	}
	return changed
}

// configureAll configures instances in parallel and waits up to ConfigureWait.
func (r *Runner) configureAll(ctx context.Context, insts []*instance) {
	if len(insts) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, in := range insts {
		wg.Add(1)
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			defer wg.Done()
			cctx, cancel := context.WithTimeout(r.ctx, time.Minute)
			defer cancel()
			if err := r.configure(cctx, in); err != nil {
				r.log.Warn("plugin instance not configured", "provider", in.provider, "instance", in.name, "err", err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(r.opts.ConfigureWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		r.log.Warn("plugins are slow to start; links wait for them", "waited", r.opts.ConfigureWait)
	case <-ctx.Done():
	}
}

// instanceFor returns the instance of a block.
func (r *Runner) instanceFor(name string) (*instance, error) {
	r.mu.RLock()
	in := r.instances[name]
	r.mu.RUnlock()
	if in == nil {
		return nil, fmt.Errorf("no superoffice or calendar block %q in the configuration", name)
	}
	return in, nil
}

// configure hands an instance its wanted settings unless it holds them already.
func (r *Runner) configure(ctx context.Context, in *instance) error {
	in.call.Lock()
	defer in.call.Unlock()
	r.mu.RLock()
	want := in.want
	r.mu.RUnlock()
	if in.settled(want) {
		return nil
	}
	p, err := r.opts.Plugins(in.provider)
	if err == nil {
		err = p.Configure(ctx, in.name, want)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		in.err = fmt.Errorf("plugin %s cannot take the settings of %s: %w", in.provider, in.name, err)
		return in.err
	}
	in.have, in.err, in.done = want, nil, true
	return nil
}

func (r *Runner) instanceReady(in *instance) error {
	r.mu.RLock()
	want := in.want
	r.mu.RUnlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.err != nil:
		return in.err
	case !in.done || !maps.Equal(want, in.have):
		return fmt.Errorf("plugin %s is starting for %s", in.provider, in.name)
	}
	return nil
}

// provider returns the configured provider of a block, configuring it first.
func (r *Runner) provider(ctx context.Context, block string) (sdk.Provider, error) {
	in, err := r.instanceFor(block)
	if err != nil {
		return nil, err
	}
	if err := r.configure(ctx, in); err != nil {
		return nil, err
	}
	return r.opts.Plugins(in.provider)
}

// admitBelow admits a run while the live heap (as the last collection found
// it) is under limit bytes.
func admitBelow(limit int64) func() bool {
	return func() bool {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return true
		}
		return sample[0].Value.Uint64() < uint64(limit)
	}
}
