package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"synchronizer/plugins/sdk"
)

// run is the state of one Run call.
type run struct {
	e    *Engine
	link Link
	pol  Policy
	opts RunOptions
	now  time.Time
	win  sdk.Window
	log  *slog.Logger
	res  *Result

	fingerprint string
	cursors     [2]CursorState
	hadCursor   [2]bool
	views       [2]*view
	idx         *index

	works    map[string]*work
	dirty    map[string]*Pair
	drops    map[string]bool
	creating map[string]Side // pair ID -> side a create is planned on this run
	// settled are intents resolved by the listing, dropped in the final commit.
	settled []string
	// incomplete: something must be looked at again, so the cursors stay.
	incomplete bool
	// idle: neither side reported a change.
	idle          bool
	throttleWaits int
	guardErr      error
	// pend holds records that wait for the run's next commit, ahead the intents
	// written ahead of their creates (pending.go).
	pend  pending
	ahead map[string]*Intent
	// mt is the meeting side of the run (nil without Link.Meetings).
	mt *meetingRun
}

// view is one side's change round.
type view struct {
	side    Side
	full    bool
	cursor  string
	events  map[string]*sdk.Event
	removed map[string]bool
}

func (v *view) empty() bool { return !v.full && len(v.events) == 0 && len(v.removed) == 0 }

func (v *view) ids() []string {
	out := make([]string, 0, len(v.events))
	for id := range v.events {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (r *run) store() Store { return r.e.cfg.Store }

func (r *run) do(ctx context.Context) error {
	r.fingerprint = r.pol.fingerprint()
	r.initMeetings()
	var full [2]bool
	periodic := false
	for _, s := range sides {
		cs, ok, err := r.store().Cursor(ctx, r.link.Key, s)
		if err != nil {
			return fmt.Errorf("read %s cursor: %w", s, err)
		}
		i := s.index()
		r.cursors[i], r.hadCursor[i] = cs, ok
		if !ok || cs.Token == "" || cs.Fingerprint != r.fingerprint {
			full[i] = true
		} else if r.e.cfg.FullEvery > 0 && r.now.Sub(cs.FullAt) >= r.e.cfg.FullEvery {
			periodic = true
		}
	}
	if periodic {
		full = [2]bool{true, true}
	}

	intents, err := r.store().Intents(ctx, r.link.Key)
	if err != nil {
		return fmt.Errorf("read intents: %w", err)
	}
	if len(intents) > 0 {
		if err := r.loadPairs(ctx); err != nil {
			return err
		}
		if err := r.resolveIntents(ctx, intents, &full); err != nil {
			return err
		}
	}

	for _, s := range sides {
		i := s.index()
		cur := r.cursors[i].Token
		if full[i] {
			cur = ""
		}
		v, err := r.read(ctx, s, cur)
		if errors.Is(err, sdk.ErrFullSyncRequired) && cur != "" {
			r.log.Info("change cursor expired; reading the window in full", "side", s)
			v, err = r.read(ctx, s, "")
		}
		if err != nil {
			return err
		}
		r.views[i] = v
		if v.full {
			r.res.Full = append(r.res.Full, s)
		}
	}

	sweep := r.mt != nil && !r.e.swept(r.link.Key)
	if r.idx == nil && r.views[0].empty() && r.views[1].empty() && !sweep && !(r.mt != nil && r.e.hasWaiting(r.link.Key)) {
		// Idle: nothing changed on either side. Store moved cursors only, and
		// only now and then (cursorRefresh).
		if r.opts.DryRun {
			return nil
		}
		r.idle = true
		return r.commitEnd(ctx)
	}
	if r.idx == nil {
		if err := r.loadPairs(ctx); err != nil {
			return err
		}
	}

	steps, err := r.plan(ctx)
	if err != nil {
		return err
	}
	for _, v := range r.views {
		// The listed items live on in the works that need them.
		v.events, v.removed = nil, nil
	}
	r.res.Plan = slices.Grow(r.res.Plan, len(steps))
	for _, st := range steps {
		r.planned(st)
	}
	if r.opts.DryRun {
		r.res.Pairs = len(r.idx.byID)
		r.res.Waiting = r.countWaiting()
		return r.guardErr
	}
	if r.guardErr != nil {
		return r.guardErr
	}
	var failed error
	skipped := 0
	for i, st := range steps {
		if err := r.writeAhead(ctx, steps[i:]); err != nil {
			r.res.Pairs = len(r.idx.byID)
			return err
		}
		err := r.exec(ctx, st)
		r.settleAhead(st)
		steps[i] = nil
		if err == nil && st.w.p.Role == RoleNone {
			// Written and recorded: both sides hold what the pair records, which
			// is what "not listed" means to anything that looks at it again. The
			// items this run read for it may go (a long initial sync holds less
			// and less).
			st.w.obs = [2]obs{}
		}
		if err != nil {
			if r.goOn(ctx, err, &skipped) {
				failed = cmp.Or(failed, err)
				continue
			}
			r.res.Pairs = len(r.idx.byID)
			return err
		}
	}
	r.res.Pairs = len(r.idx.byID)
	if failed != nil {
		return failed
	}
	if err := r.commitEnd(ctx); err != nil {
		return err
	}
	if r.mt != nil {
		if err := r.registerMeetings(ctx, sweep); err != nil {
			return err
		}
		r.res.Waiting = r.countWaiting()
		r.e.setMeetingState(r.link.Key, r.link.Profile, r.res.Waiting > 0)
	}
	return nil
}

func (r *run) loadPairs(ctx context.Context) error {
	pairs, err := r.store().Pairs(ctx, r.link.Key)
	if err != nil {
		return fmt.Errorf("load pairs: %w", err)
	}
	r.idx = newIndex(pairs)
	r.works = map[string]*work{}
	r.dirty = map[string]*Pair{}
	r.drops = map[string]bool{}
	r.creating = map[string]Side{}
	return nil
}

// cursorRefresh is how long the cursor of a side that keeps reporting nothing
// is kept before the newer one a round returned is stored; an idle run within
// it writes nothing to the store.
const cursorRefresh = time.Hour

// commitEnd records what the run settled without a write, and the new cursors.
func (r *run) commitEnd(ctx context.Context) error {
	var b Batch
	if r.idx != nil {
		ids := make([]string, 0, len(r.dirty))
		for id := range r.dirty {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if !r.drops[id] {
				b.PutPairs = append(b.PutPairs, r.dirty[id].Clone())
			}
		}
		for id := range r.drops {
			b.DeletePairs = append(b.DeletePairs, id)
		}
		slices.Sort(b.DeletePairs)
	}
	b.DeleteIntents = r.settled
	if !r.incomplete {
		b.Cursors = map[Side]CursorState{}
		for _, s := range sides {
			i := s.index()
			v := r.views[i]
			prev := r.cursors[i]
			next := CursorState{Token: v.cursor, Fingerprint: r.fingerprint, FullAt: prev.FullAt, Saved: r.now}
			if v.full {
				next.FullAt = r.now
			}
			same := r.hadCursor[i] && next.Token == prev.Token && next.Fingerprint == prev.Fingerprint && next.FullAt.Equal(prev.FullAt)
			// After a round that found nothing, the stored cursor yields what the
			// new one would (both see every change since; services take old
			// cursors back for days), so it stays until it is cursorRefresh old.
			keep := r.idle && r.hadCursor[i] && prev.Token != "" && !v.full && prev.Fingerprint == next.Fingerprint &&
				!prev.Saved.IsZero() && r.now.Sub(prev.Saved) < cursorRefresh && r.now.Sub(prev.Saved) >= 0
			if same || keep {
				continue
			}
			b.Cursors[s] = next
		}
		if len(b.Cursors) == 0 {
			b.Cursors = nil
		}
	}
	return r.commit(ctx, b, "run")
}

// call runs one provider call, waiting out throttling within the run's budget:
// the server's retry-after, else exponential backoff with jitter.
func (r *run) call(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		hint, throttled := sdk.RetryAfter(err)
		if !throttled || r.throttleWaits >= r.e.cfg.ThrottleRetries {
			return err
		}
		backoff := time.Second << r.throttleWaits
		backoff = backoff/2 + time.Duration(r.e.cfg.Rand.Int64N(int64(backoff/2)+1))
		wait := max(hint, backoff)
		if wait > r.e.cfg.MaxThrottleWait {
			return err
		}
		r.throttleWaits++
		r.log.Info("throttled; waiting", "wait", wait, "err", err)
		if serr := r.e.cfg.Sleep(ctx, wait); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// read runs one change round of side s from cursor ("" = full).
func (r *run) read(ctx context.Context, s Side, cursor string) (*view, error) {
	v := &view{side: s, full: cursor == "", events: map[string]*sdk.Event{}, removed: map[string]bool{}}
	ep := r.link.endpoint(s)
	cur := cursor
	for page := 1; ; page++ {
		if page > r.e.cfg.MaxPages {
			return nil, fmt.Errorf("list changes of %s: more than %d pages; the provider keeps paging", s, r.e.cfg.MaxPages)
		}
		var ch sdk.Changes
		err := r.call(ctx, func() error {
			var err error
			ch, err = ep.ListChanges(ctx, sdk.ChangesRequest{Cursor: cur, Window: r.win, PageSize: r.e.cfg.PageSize})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list changes of %s (page %d): %w", s, page, err)
		}
		if ch.Full {
			v.full = true
		}
		for _, ev := range ch.Events {
			if ev.ID == "" {
				r.itemError("%s listed an item without id (%q); ignored", s, ev.Title)
				continue
			}
			v.events[ev.ID] = &ev
			delete(v.removed, ev.ID)
		}
		for _, id := range ch.Removed {
			if id == "" {
				continue
			}
			delete(v.events, id)
			v.removed[id] = true
		}
		if !ch.More {
			v.cursor = ch.Cursor
			return v, nil
		}
		if ch.Cursor == "" || ch.Cursor == cur {
			return nil, fmt.Errorf("list changes of %s (page %d): the provider says more follows but gave no new cursor", s, page)
		}
		cur = ch.Cursor
	}
}

// maxSkippedWrites bounds the failed writes one run goes on past; beyond them
// the service is down rather than flaky.
const maxSkippedWrites = 10

// goOn decides whether the run goes on with its other writes after one failed.
// A passing failure of the service (a 5xx, a broken connection) costs that item
// only: the failing step left its intent or pair as the next run expects it, so
// the run carries out the rest and still fails at the end (the cursors stay, the
// scheduler runs the link again). Without this, one failed write in an initial
// sync of hundreds throws the rest of the run away, again at every retry. A
// failure to record, a cancelled run, throttling beyond the run's budget and
// refused credentials stop the run at once.
func (r *run) goOn(ctx context.Context, err error, skipped *int) bool {
	var se *storeError
	if ctx.Err() != nil || errors.As(err, &se) || errors.Is(err, sdk.ErrThrottled) ||
		errors.Is(err, sdk.ErrUnauthenticated) || errors.Is(err, sdk.ErrConsentRevoked) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if *skipped >= maxSkippedWrites {
		return false
	}
	*skipped++
	r.itemError("%v", err)
	return true
}

func (r *run) itemError(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.res.ItemErrors = append(r.res.ItemErrors, msg)
	r.log.Warn("item not synced", "reason", msg)
}

// maxNotes bounds a result's notes (a full read after the window narrowed can
// freeze thousands of pairs); the rest are counted.
const maxNotes = 200

func (r *run) note(format string, args ...any) {
	if len(r.res.Notes) < maxNotes {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf(format, args...))
		return
	}
	r.res.MoreNotes++
}

// done records a carried-out write.
func (r *run) done(a Action) {
	r.res.Done = append(r.res.Done, a)
	r.e.obs.ItemSynced(r.link.Profile, a.Side, a.Op)
}

func (e *Engine) swept(link string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.sweptLinks[link]
	return ok
}

func (e *Engine) hasWaiting(link string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.waiting[link]
}

// setMeetingState records after a run that the link's meetings were registered,
// and whether it holds waiting pairs (which make the next run look again even when
// nothing changed).
func (e *Engine) setMeetingState(link, profile string, waiting bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sweptLinks[link] = profile
	e.waiting[link] = waiting
}

// DropMeetings forgets the meeting registry of a profile that left the
// configuration (when the registry can drop one, as daemon/state's SyncStore and
// MemMeetings can). Should the profile come back, the first run of each of its
// links registers the meetings its organizers hold again.
func (e *Engine) DropMeetings(ctx context.Context, profile string) error {
	if d, ok := e.cfg.Meetings.(interface {
		DropMeetings(ctx context.Context, profile string) error
	}); ok {
		if err := d.DropMeetings(ctx, profile); err != nil {
			return fmt.Errorf("drop the meetings of profile %s: %w", profile, err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.dirs, profile)
	for link, p := range e.sweptLinks {
		if p == profile {
			delete(e.sweptLinks, link)
		}
	}
	return nil
}
