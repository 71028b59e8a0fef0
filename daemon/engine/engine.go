package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"synchronizer/plugins/sdk"
)

// Config holds an Engine's dependencies and tunables. Zero values take defaults.
type Config struct {
	Store    Store
	Logger   *slog.Logger
	Observer Observer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Rand supplies jitter for throttle backoff (a fixed seed when nil).
	Rand *rand.Rand
	// Sleep waits d or until ctx ends (a real timer when nil). Tests inject one that
	// only advances a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error

	// MassDeleteMin and MassDeleteRatio set the mass-delete guard: a run that would
	// delete at least MassDeleteMin items on one side, and at least MassDeleteRatio
	// of that side's paired items, stops with ErrMassDelete (defaults 10 and 0.5).
	MassDeleteMin   int
	MassDeleteRatio float64
	// FlapMax writes of one pair within FlapWindow quarantine it for QuarantineFor
	// (defaults 10, 1h, 24h).
	FlapMax       int
	FlapWindow    time.Duration
	QuarantineFor time.Duration
	// FullEvery forces a full read of both sides this often, which catches changes a
	// service's change feed missed and items that slid into the window (default 24h;
	// negative disables).
	FullEvery time.Duration
	// ThrottleRetries bounds in-run waits on throttling per run (default 5), each
	// at most MaxThrottleWait (default 1m); beyond that the run fails with the
	// throttle error and the scheduler backs off.
	ThrottleRetries int
	MaxThrottleWait time.Duration
	// PageSize is the ListChanges page size hint (0 = provider default).
	PageSize int
	// MaxPages bounds one change round (default 100000) against a provider that never
	// stops paging.
	MaxPages int

	// Meetings is the meeting registry of links with Link.Meetings set (see
	// meeting.go). Nil: Store when it implements MeetingStore, else one in memory.
	Meetings MeetingStore
	// MeetingWait is how long a participant's copy waits for its organizer's link
	// quietly; after it, each run reports the wait as an item error (default 1h).
	MeetingWait time.Duration
}

// Engine runs links. It holds no per-link state between runs beyond the Store, so
// one Engine serves every link and runs of different links may overlap.
type Engine struct {
	cfg Config
	log *slog.Logger
	obs Observer

	mu sync.Mutex
	// sweptLinks: links whose organizer pairs were registered since the engine
	// started (or since their profile's registry was dropped), with their profile.
	sweptLinks map[string]string
	// waiting: links known to hold pairs that wait for a meeting (they run even when
	// nothing changed).
	waiting map[string]bool
	// dirs: each profile's members' directory (meetingplan.go).
	dirs map[string]dirCache
}

// New returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.MassDeleteMin <= 0 {
		cfg.MassDeleteMin = 10
	}
	if cfg.MassDeleteRatio <= 0 {
		cfg.MassDeleteRatio = 0.5
	}
	if cfg.FlapMax <= 0 {
		cfg.FlapMax = 10
	}
	if cfg.FlapWindow <= 0 {
		cfg.FlapWindow = time.Hour
	}
	if cfg.QuarantineFor <= 0 {
		cfg.QuarantineFor = 24 * time.Hour
	}
	if cfg.FullEvery == 0 {
		cfg.FullEvery = 24 * time.Hour
	}
	if cfg.ThrottleRetries <= 0 {
		cfg.ThrottleRetries = 5
	}
	if cfg.MaxThrottleWait <= 0 {
		cfg.MaxThrottleWait = time.Minute
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 100000
	}
	if cfg.Meetings == nil {
		if ms, ok := cfg.Store.(MeetingStore); ok {
			cfg.Meetings = ms
		} else {
			cfg.Meetings = NewMemMeetings()
		}
	}
	if cfg.MeetingWait <= 0 {
		cfg.MeetingWait = time.Hour
	}
	return &Engine{cfg: cfg, log: cfg.Logger, obs: cfg.Observer, sweptLinks: map[string]string{}, waiting: map[string]bool{}, dirs: map[string]dirCache{}}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Link is what one run needs to know about a link.
type Link struct {
	// Key identifies the link in the store ("profile/link").
	Key string
	// Profile and Name label logs and metrics.
	Profile, Name string
	SuperOffice   Endpoint
	Calendar      Endpoint
	Policy        Policy
	// Meetings, shared by the links of the link's profile, makes a meeting sync once
	// across them (meeting.go). Nil: the link syncs its own items only.
	Meetings *Meetings
}

func (l Link) endpoint(s Side) Endpoint {
	if s == SuperOffice {
		return l.SuperOffice
	}
	return l.Calendar
}

// RunOptions are per-run switches (`synchronizer sync -dry-run -force-delete`).
type RunOptions struct {
	// DryRun plans and reports without writing to either side or to the store.
	DryRun bool
	// ForceDelete lifts the mass-delete guard for this run.
	ForceDelete bool
}

// Errors a run returns (wrapped; test with errors.Is).
var (
	// ErrMassDelete: the mass-delete guard stopped the run; nothing was written.
	ErrMassDelete = errors.New("mass-delete guard")
)

// MassDeleteError says which side looked emptied.
type MassDeleteError struct {
	Side    Side // the side whose items disappeared
	Deletes int  // items that would be deleted on the other side
	Paired  int  // items paired on that side before the run
	// Profile and Link name the link for the remedy in the message.
	Profile, Link string
}

func (e *MassDeleteError) Error() string {
	return fmt.Sprintf("mass-delete guard: %d of %d paired items vanished from %s; nothing was deleted. "+
		"If this is intended, run `synchronizer sync %s %s -force-delete`", e.Deletes, e.Paired, e.Side, e.Profile, e.Link)
}

// Is makes errors.Is(err, ErrMassDelete) true.
func (e *MassDeleteError) Is(target error) bool { return target == ErrMassDelete }

// Action is one planned write: small enough to print in a dry run.
type Action struct {
	Op Op `json:"op"`
	// Side is the side written.
	Side Side   `json:"side"`
	Pair string `json:"pair"`
	// ID is the written item (update, delete); Source the item copied from.
	ID     string        `json:"id,omitempty"`
	Source string        `json:"source,omitempty"`
	Kind   sdk.EventKind `json:"kind,omitempty"`
	Title  string        `json:"title,omitempty"`
	Start  time.Time     `json:"start,omitzero"`
	Reason string        `json:"reason"`
}

func (a Action) String() string {
	s := fmt.Sprintf("%s on %s", a.Op, a.Side)
	if a.Title != "" {
		s += fmt.Sprintf(" %q", a.Title)
	}
	if !a.Start.IsZero() {
		s += " at " + a.Start.UTC().Format("2006-01-02 15:04Z")
	}
	if a.Kind == sdk.KindMaster || a.Kind == sdk.KindException {
		s += " (" + string(a.Kind) + ")"
	}
	if a.Reason != "" {
		s += ": " + a.Reason
	}
	return s
}

// Result is what a run did (or, in a dry run, would do).
type Result struct {
	Link     string    `json:"link"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	DryRun   bool      `json:"dry_run,omitempty"`
	// Full lists the sides read in full.
	Full []Side `json:"full,omitempty"`
	// Plan is every write planned; Done the ones carried out.
	Plan []Action `json:"plan"`
	Done []Action `json:"done,omitempty"`
	// Notes explain decisions without a write: conflicts, frozen or quarantined
	// items, edits not carried over.
	Notes []string `json:"notes,omitempty"`
	// MoreNotes counts notes left out beyond the first 200.
	MoreNotes int `json:"more_notes,omitempty"`
	Conflicts int `json:"conflicts,omitempty"`
	// ItemErrors are items that could not be written (the rest of the run went on).
	ItemErrors []string `json:"item_errors,omitempty"`
	// Pairs is the number of pairs after the run (-1 when the pairs were not loaded).
	Pairs int `json:"pairs"`
	// Waiting counts participants' copies of meetings that wait for the organizer's
	// link (see Notes for why).
	Waiting int `json:"waiting,omitempty"`
}

// PlanFor returns the planned writes on one side.
func (r Result) PlanFor(s Side) []Action {
	var out []Action
	for _, a := range r.Plan {
		if a.Side == s {
			out = append(out, a)
		}
	}
	return out
}

// Run runs one link once: read, pair, plan, write, record. Errors are per link;
// a throttled run returns an error that sdk.RetryAfter understands.
func (e *Engine) Run(ctx context.Context, link Link, opts RunOptions) (Result, error) {
	start := e.cfg.Now()
	res, err := e.run(ctx, link, opts, start)
	res.Link = link.Key
	res.Started = start
	res.Finished = e.cfg.Now()
	res.DryRun = opts.DryRun
	if !opts.DryRun {
		e.obs.RunFinished(link.Profile, link.Name, err == nil, res.Finished.Sub(start), res.Finished)
	}
	log := e.log.With("profile", link.Profile, "link", link.Name)
	switch {
	case err != nil:
		// The caller (the scheduler) reports failures with its backoff.
		log.Debug("sync run failed", "err", err, "writes", len(res.Done), "planned", len(res.Plan))
	case len(res.Done) > 0 || len(res.ItemErrors) > 0 || res.Conflicts > 0:
		log.Info("sync run", "writes", len(res.Done), "conflicts", res.Conflicts, "item_errors", len(res.ItemErrors), "pairs", res.Pairs)
	default:
		log.Debug("sync run: nothing to do", "dry_run", opts.DryRun)
	}
	return res, err
}

func (e *Engine) run(ctx context.Context, link Link, opts RunOptions, now time.Time) (Result, error) {
	res := Result{Pairs: -1}
	if link.SuperOffice == nil || link.Calendar == nil {
		return res, fmt.Errorf("link %s: missing endpoint", link.Key)
	}
	if err := link.Policy.Validate(); err != nil {
		return res, fmt.Errorf("link %s: %w", link.Key, err)
	}
	r := &run{
		e:    e,
		link: link,
		pol:  link.Policy.withDefaults(),
		opts: opts,
		now:  now,
		log:  e.log.With("profile", link.Profile, "link", link.Name),
		res:  &res,
	}
	r.win = r.pol.Window(now)
	err := r.do(ctx)
	if err != nil && !opts.DryRun {
		if ferr := r.flush(ctx); ferr != nil {
			r.log.Warn("cannot record what the failed run did; its intents are settled by the next run", "err", ferr)
		}
	}
	return res, err
}
