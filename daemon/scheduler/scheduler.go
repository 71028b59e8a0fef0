// Package scheduler decides when links run: every link at its interval with
// jitter, run-now requests (per profile or per link, with dry-run and
// force-delete) that return the run's result, exponential backoff with jitter for
// failing links (honouring a throttle's retry-after), and concurrency limits
// (global, and per key such as a provider instance or a mailbox).
//
// It knows nothing about what a run does: it calls a RunFunc (the host binds it
// to engine.Engine.Run with the link's endpoints and policy). A failing or slow
// link never delays another link beyond the limits it shares with it. Time and
// randomness are injected, so tests drive it without sleeping.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/sdk"
)

// Clock is the time source; RealClock in production, a fake in tests.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// RunFunc runs one link once.
type RunFunc func(ctx context.Context, profile, link string, opts engine.RunOptions) (engine.Result, error)

// Job is one link the scheduler runs.
type Job struct {
	Profile, Link string
	// Interval between runs (0 = DefaultInterval).
	Interval time.Duration
	// Keys are the concurrency keys the job holds while it runs, such as
	// "provider:m365/acme365" or "mailbox:m365/acme365/jane@acme.example". Their
	// limits are in Config.Limits.
	Keys []string
}

// DefaultInterval is a job's interval when it gives none.
const DefaultInterval = 5 * time.Minute

// Config holds a Scheduler's dependencies and tunables; zero values take defaults.
type Config struct {
	Run    RunFunc
	Clock  Clock
	Rand   *rand.Rand
	Logger *slog.Logger
	// MaxConcurrent bounds runs in progress at once (default 4).
	MaxConcurrent int
	// Limits bounds runs holding a key at once. An entry names a key exactly, or
	// the class before its first ':' ("mailbox": 1 = one run per mailbox). Keys
	// without a limit are unbounded.
	Limits map[string]int
	// Jitter spreads runs by ± this fraction of the interval (default 0.1).
	Jitter float64
	// BackoffBase and BackoffMax bound the wait after failures: base × 2^(n-1),
	// jittered, at most max (defaults 30s and 30m); a throttle's retry-after, when
	// longer, wins.
	BackoffBase, BackoffMax time.Duration
	// InitialSpread spreads the first runs after start or reload over
	// [0, min(interval, InitialSpread)) (default 1m).
	InitialSpread time.Duration
	// Admit, when set, is asked before each run starts, beyond the limits:
	// false holds the runs that could start until a run ends or AdmitRetry has
	// passed. The host bounds what runs hold in memory with it, where a count
	// of runs cannot tell a run that waits on a service's pace from one that
	// holds thousands of items.
	Admit func() bool
	// AdmitRetry is how soon held runs are tried again (default 250ms).
	AdmitRetry time.Duration
	// StartBurst bounds the runs one look at the queue starts while Admit is
	// set, so that what they take shows before more start; the rest follow
	// after AdmitRetry or as runs end (default 16).
	StartBurst int
	// AdmitMin runs may always be under way, whatever Admit says, so that
	// links keep running when memory is tight for other reasons (default 8).
	AdmitMin int
}

// Errors.
var (
	ErrUnknownProfile = errors.New("unknown profile")
	ErrUnknownLink    = errors.New("unknown link")
	ErrStopped        = errors.New("scheduler stopped")
)

// LinkStatus is what /v1/status shows about a link's runs.
type LinkStatus struct {
	Profile, Link string
	Running       bool
	LastRun       time.Time // when the last (non-dry) run ended
	LastSuccess   time.Time
	LastError     string // "" after a successful run
	Failures      int    // consecutive failed runs
	NextRun       time.Time
	// Pairs is the pair count the last run reported (-1 when unknown).
	Pairs int
}

// LinkResult is the outcome of one requested run.
type LinkResult struct {
	Profile, Link string
	Result        engine.Result
	Err           error
}

// Scheduler runs jobs. Create with New; call Run to drive the intervals.
type Scheduler struct {
	cfg Config
	log *slog.Logger

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}

	mu      sync.Mutex
	entries map[key]*entry
	// list holds the entries in no order, for scans cheaper than the map's.
	list []*entry
	// asked holds the entries with requests, by their first request's seq.
	asked   []*entry
	running int
	// idle are goroutines waiting for a run (work).
	idle []chan func()
	// keys are the concurrency keys jobs hold, each with its limit and how
	// many runs hold it now.
	keys    map[string]*keyState
	seq     uint64
	stopped bool
}

type key struct{ profile, link string }

type entry struct {
	k        key
	job      Job
	ks       []*keyState // the job's keys
	next     time.Time
	running  bool
	removed  bool
	queued   bool // in Scheduler.asked
	failures int
	status   LinkStatus
	requests []*request
}

// keyState is one concurrency key.
type keyState struct {
	limit int // 0: none
	held  int
}

type request struct {
	seq  uint64
	opts engine.RunOptions
	done chan LinkResult
}

// New returns a Scheduler with no jobs.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Run == nil {
		return nil, errors.New("scheduler: no run function")
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 4
	}
	if cfg.Jitter <= 0 {
		cfg.Jitter = 0.1
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 30 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Minute
	}
	if cfg.InitialSpread <= 0 {
		cfg.InitialSpread = time.Minute
	}
	if cfg.AdmitRetry <= 0 {
		cfg.AdmitRetry = 250 * time.Millisecond
	}
	if cfg.StartBurst <= 0 {
		cfg.StartBurst = 16
	}
	if cfg.AdmitMin <= 0 {
		cfg.AdmitMin = 8
	}
	base, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		cfg: cfg, log: cfg.Logger, base: base, cancel: cancel,
		wake:    make(chan struct{}, 1),
		entries: map[key]*entry{},
		keys:    map[string]*keyState{},
	}, nil
}

// SetJobs replaces the job list (at start and on reload). Links that stay keep
// their status and schedule; new links start within the initial spread; removed
// links finish a run in progress and are forgotten.
func (s *Scheduler) SetJobs(jobs []Job) error {
	seen := map[key]bool{}
	for _, j := range jobs {
		if j.Profile == "" || j.Link == "" {
			return fmt.Errorf("job %q/%q: profile and link must be named", j.Profile, j.Link)
		}
		if j.Interval < 0 {
			return fmt.Errorf("job %s/%s: negative interval %s", j.Profile, j.Link, j.Interval)
		}
		k := key{j.Profile, j.Link}
		if seen[k] {
			return fmt.Errorf("job %s/%s listed twice", j.Profile, j.Link)
		}
		seen[k] = true
	}
	s.mu.Lock()
	now := s.cfg.Clock.Now()
	for _, j := range jobs {
		j.Keys = slices.Clone(j.Keys)
		k := key{j.Profile, j.Link}
		if e, ok := s.entries[k]; ok && !e.removed {
			// A run in progress gives back the keys it took when it ends.
			e.job, e.ks = j, s.keyStates(j.Keys)
			if limit := now.Add(s.jittered(interval(j))); e.next.After(limit) {
				e.next = limit
			}
			e.status.NextRun = e.next
			continue
		}
		spread := min(interval(j), s.cfg.InitialSpread)
		e := &entry{k: k, job: j, ks: s.keyStates(j.Keys), next: now.Add(time.Duration(s.cfg.Rand.Int64N(int64(spread) + 1)))}
		e.status = LinkStatus{Profile: j.Profile, Link: j.Link, NextRun: e.next, Pairs: -1}
		s.entries[k] = e
	}
	for k, e := range s.entries {
		if seen[k] {
			continue
		}
		e.removed = true
		for _, r := range e.requests {
			r.done <- LinkResult{Profile: k.profile, Link: k.link, Err: fmt.Errorf("%s/%s: %w", k.profile, k.link, ErrUnknownLink)}
		}
		e.requests = nil
		if !e.running {
			delete(s.entries, k)
		}
	}
	s.list = s.list[:0]
	used := map[*keyState]bool{}
	for _, e := range s.entries {
		if !e.removed {
			s.list = append(s.list, e)
			for _, k := range e.ks {
				used[k] = true
			}
		}
	}
	for n, k := range s.keys {
		if !used[k] && k.held <= 0 {
			delete(s.keys, n)
		}
	}
	s.mu.Unlock()
	s.kick()
	return nil
}

// keyStates resolves job keys to their states, making those not seen yet.
// s.mu must be held.
func (s *Scheduler) keyStates(names []string) []*keyState {
	out := make([]*keyState, len(names))
	for i, n := range names {
		ks := s.keys[n]
		if ks == nil {
			ks = &keyState{limit: s.limit(n)}
			s.keys[n] = ks
		}
		out[i] = ks
	}
	return out
}

func interval(j Job) time.Duration {
	if j.Interval <= 0 {
		return DefaultInterval
	}
	return j.Interval
}

// jittered returns d ± Jitter·d. s.mu must be held (the random source is not
// safe for concurrent use).
func (s *Scheduler) jittered(d time.Duration) time.Duration {
	j := float64(d) * s.cfg.Jitter
	return d + time.Duration((s.cfg.Rand.Float64()*2-1)*j)
}

// backoff is the wait after n consecutive failures. s.mu must be held.
func (s *Scheduler) backoff(n int, err error) time.Duration {
	b := s.cfg.BackoffBase
	for i := 1; i < n && b < s.cfg.BackoffMax; i++ {
		b *= 2
	}
	b = min(b, s.cfg.BackoffMax)
	b = b/2 + time.Duration(s.cfg.Rand.Int64N(int64(b/2)+1))
	if hint, ok := sdk.RetryAfter(err); ok && hint > b {
		b = hint
	}
	return b
}

// Run drives the schedule until ctx ends, then waits for runs in progress (they
// see their context cancelled) and returns.
func (s *Scheduler) Run(ctx context.Context) error {
	defer func() {
		s.mu.Lock()
		s.stopped = true
		for k, e := range s.entries {
			for _, r := range e.requests {
				r.done <- LinkResult{Profile: k.profile, Link: k.link, Err: ErrStopped}
			}
			e.requests = nil
		}
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
	}()
	for {
		if !Wait(ctx, s.cfg.Clock, s.dispatch(), s.wake) {
			return nil
		}
	}
}

// Wait waits until d has passed on clock (d < 0: no timer, only wake or ctx
// end it), until wake fires, or until ctx ends; it reports false when ctx
// ended. A loop that dispatches what is due and sleeps until the next is due
// or it is woken (the scheduler's, the push manager's) waits with it.
func Wait(ctx context.Context, clock Clock, d time.Duration, wake <-chan struct{}) bool {
	var tc <-chan time.Time
	if d >= 0 {
		t := clock.NewTimer(d)
		defer t.Stop()
		tc = t.C()
	}
	select {
	case <-ctx.Done():
		return false
	case <-tc:
	case <-wake:
	}
	return true
}

func (s *Scheduler) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// dispatch starts what may start now and returns how long until the next
// scheduled run (-1: nothing scheduled). Requests go first, oldest first, then
// scheduled runs that are due, earliest first; one that does not fit its
// limits does not hold up those behind it. It runs after every run, with
// thousands of links waiting, so it scans, it does not sort them all.
func (s *Scheduler) dispatch() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return -1
	}
	now := s.cfg.Clock.Now()
	starts, held := 0, false
	// may reports whether one more run may start now, beyond the limits.
	may := func() bool {
		if s.cfg.Admit == nil || s.running < s.cfg.AdmitMin {
			return true
		}
		if starts >= s.cfg.StartBurst || !s.cfg.Admit() {
			held = true
			return false
		}
		starts++
		return true
	}
	keep := s.asked[:0]
	var again []*entry
	for _, e := range s.asked {
		switch {
		case e.removed || len(e.requests) == 0:
			e.queued = false
		case e.running || s.running >= s.cfg.MaxConcurrent || !fits(e.ks) || held || !may():
			keep = append(keep, e)
		default:
			s.start(e.k, e)
			e.queued = false
			if len(e.requests) > 0 {
				again = append(again, e) // requests with other options
			}
		}
	}
	clear(s.asked[len(keep):])
	s.asked = keep
	for _, e := range again {
		s.enqueue(e)
	}
	var due []*entry
	var first *entry // the next to be due
	for _, e := range s.list {
		if e.running || e.removed || len(e.requests) > 0 {
			continue
		}
		if !e.next.After(now) {
			due = append(due, e)
			continue
		}
		if first == nil || e.next.Before(first.next) {
			first = e
		}
	}
	next := time.Duration(-1)
	if first != nil {
		next = first.next.Sub(now)
	}
	slices.SortFunc(due, func(a, b *entry) int {
		if c := a.next.Compare(b.next); c != 0 {
			return c
		}
		if a.k.profile != b.k.profile {
			return strings.Compare(a.k.profile, b.k.profile)
		}
		return strings.Compare(a.k.link, b.k.link)
	})
	for _, e := range due {
		if s.running < s.cfg.MaxConcurrent && fits(e.ks) && !held && may() {
			s.start(e.k, e)
		}
	}
	if held && (next < 0 || next > s.cfg.AdmitRetry) {
		next = s.cfg.AdmitRetry
	}
	return next
}

// enqueue puts e among the asked entries by its first request's seq. s.mu
// must be held.
func (s *Scheduler) enqueue(e *entry) {
	if e.queued {
		return
	}
	e.queued = true
	seq := e.requests[0].seq
	i := sort.Search(len(s.asked), func(i int) bool {
		a := s.asked[i]
		return len(a.requests) > 0 && a.requests[0].seq > seq
	})
	s.asked = slices.Insert(s.asked, i, e)
}

// limit returns the limit of a key (0 = none).
func (s *Scheduler) limit(k string) int {
	if n, ok := s.cfg.Limits[k]; ok {
		return n
	}
	class, _, _ := strings.Cut(k, ":")
	return s.cfg.Limits[class]
}

func fits(ks []*keyState) bool {
	for _, k := range ks {
		if k.limit > 0 && k.held >= k.limit {
			return false
		}
	}
	return true
}

// start launches one run of e: the oldest request's options (and every request
// waiting with the same options), else a scheduled run. s.mu must be held.
func (s *Scheduler) start(k key, e *entry) {
	var opts engine.RunOptions
	var served []*request
	if len(e.requests) > 0 {
		opts = e.requests[0].opts
		rest := e.requests[:0]
		for _, r := range e.requests {
			if r.opts == opts {
				served = append(served, r)
			} else {
				rest = append(rest, r)
			}
		}
		e.requests = rest
	}
	e.running = true
	e.status.Running = true
	s.running++
	ks := e.ks
	for _, k := range ks {
		k.held++
	}
	job := e.job
	s.wg.Add(1)
	fn := func() {
		defer s.wg.Done()
		res, err := s.runOne(job, opts)
		s.finish(k, e, job, ks, opts, res, err, served)
	}
	if n := len(s.idle); n > 0 {
		w := s.idle[n-1]
		s.idle = s.idle[:n-1]
		w <- fn
		return
	}
	w := make(chan func(), 1)
	go s.work(w, fn)
}

// work runs fn, then waits for the next run handed to it. Runs go to waiting
// goroutines rather than new ones: a run's goroutine grows its stack to tens of
// kilobytes on its way through the provider calls, and growing a fresh one for
// every run costs more than an idle run's own work.
func (s *Scheduler) work(w chan func(), fn func()) {
	for {
		fn()
		s.mu.Lock()
		if s.stopped || len(s.idle) >= s.cfg.MaxConcurrent {
			s.mu.Unlock()
			return
		}
		s.idle = append(s.idle, w)
		s.mu.Unlock()
		select {
		case fn = <-w:
		case <-s.base.Done():
			// A run handed over before the end is in w already: start sends
			// while it holds s.mu and takes w out of idle.
			s.mu.Lock()
			if i := slices.Index(s.idle, w); i >= 0 {
				s.idle = slices.Delete(s.idle, i, i+1)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			fn = <-w
		}
	}
}

func (s *Scheduler) runOne(job Job, opts engine.RunOptions) (res engine.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sync run of %s/%s panicked: %v", job.Profile, job.Link, p)
		}
	}()
	return s.cfg.Run(s.base, job.Profile, job.Link, opts)
}

func (s *Scheduler) finish(k key, e *entry, job Job, ks []*keyState, opts engine.RunOptions, res engine.Result, err error, served []*request) {
	s.mu.Lock()
	now := s.cfg.Clock.Now()
	e.running = false
	e.status.Running = false
	s.running--
	for _, k := range ks {
		k.held--
	}
	if !opts.DryRun {
		e.status.LastRun = now
		if res.Pairs >= 0 {
			e.status.Pairs = res.Pairs
		}
		if err == nil {
			e.failures = 0
			e.status.LastSuccess = now
			e.status.LastError = ""
			e.next = now.Add(s.jittered(interval(job)))
		} else {
			e.failures++
			e.status.LastError = err.Error()
			wait := s.backoff(e.failures, err)
			e.next = now.Add(wait)
			s.log.Warn("link sync failed; backing off", "profile", k.profile, "link", k.link,
				"failures", e.failures, "retry_in", wait, "err", err)
		}
		e.status.Failures = e.failures
		e.status.NextRun = e.next
	}
	if e.removed {
		if cur, ok := s.entries[k]; ok && cur == e {
			delete(s.entries, k)
		}
	}
	s.mu.Unlock()
	for _, r := range served {
		r.done <- LinkResult{Profile: k.profile, Link: k.link, Result: res, Err: err}
	}
	// Start what waited for this run's slot, also when Run is not driving.
	s.dispatch()
	s.kick()
}

// RunNow runs link of profile now (link "" = every link of the profile, in
// link-name order) and returns each run's result. Runs wait for the concurrency
// limits like any other; a link already running is run again after it. If ctx
// ends first, RunNow returns ctx's error and the runs still happen.
func (s *Scheduler) RunNow(ctx context.Context, profile, link string, opts engine.RunOptions) ([]LinkResult, error) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, ErrStopped
	}
	var keys []key
	profileKnown := false
	for k, e := range s.entries {
		if e.removed || k.profile != profile {
			continue
		}
		profileKnown = true
		if link == "" || k.link == link {
			keys = append(keys, k)
		}
	}
	switch {
	case !profileKnown:
		s.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", profile, ErrUnknownProfile)
	case len(keys) == 0:
		s.mu.Unlock()
		return nil, fmt.Errorf("%s/%s: %w", profile, link, ErrUnknownLink)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].link < keys[j].link })
	reqs := make([]*request, len(keys))
	for i, k := range keys {
		s.seq++
		r := &request{seq: s.seq, opts: opts, done: make(chan LinkResult, 1)}
		e := s.entries[k]
		e.requests = append(e.requests, r)
		s.enqueue(e)
		reqs[i] = r
	}
	s.mu.Unlock()
	s.dispatch() // also serves callers when Run is not driving the schedule
	s.kick()

	out := make([]LinkResult, len(reqs))
	for i, r := range reqs {
		select {
		case res := <-r.done:
			out[i] = res
		case <-ctx.Done():
			return out[:i], ctx.Err()
		}
	}
	return out, nil
}

// Status returns every link's status, sorted by profile and link.
func (s *Scheduler) Status() []LinkStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LinkStatus, 0, len(s.entries))
	for _, e := range s.entries {
		if !e.removed {
			out = append(out, e.status)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Profile != out[j].Profile {
			return out[i].Profile < out[j].Profile
		}
		return out[i].Link < out[j].Link
	})
	return out
}

// Running returns the number of runs in progress.
func (s *Scheduler) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}
