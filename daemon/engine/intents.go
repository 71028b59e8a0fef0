package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"synchronizer/plugins/sdk"
)

// Recover settles the link's pending intents (writes a crash left unrecorded)
// without reading changes. The host calls it for every link when it starts, so
// that nothing a user does before the link's next run can be mistaken for a
// change against stale state. Run does the same first thing anyway.
func (e *Engine) Recover(ctx context.Context, link Link) error {
	intents, err := e.cfg.Store.Intents(ctx, link.Key)
	if err != nil {
		return fmt.Errorf("read intents of %s: %w", link.Key, err)
	}
	if len(intents) == 0 {
		return nil
	}
	var res Result
	r := &run{e: e, link: link, pol: link.Policy.withDefaults(), now: e.cfg.Now(), res: &res,
		log: e.log.With("profile", link.Profile, "link", link.Name)}
	r.win = r.pol.Window(r.now)
	if err := r.loadPairs(ctx); err != nil {
		return err
	}
	// Intents a provider cannot look up, and creates whose copy was not found by
	// its correlation id, stay for the next run's full read.
	return r.resolveIntents(ctx, intents, nil)
}

// lookupLimit is how many pending creates of one side are looked up by their
// correlation ids; more (a crash in a chunk of creates, see pending.go) are
// settled by one full read of the side instead, which costs less.
const lookupLimit = 4

// resolveIntents settles pending intents one by one.
func (r *run) resolveIntents(ctx context.Context, intents []Intent, full *[2]bool) error {
	sort.Slice(intents, func(i, j int) bool { return intents[i].ID < intents[j].ID })
	var creates [2]int
	for _, in := range intents {
		if in.Op != OpUpdate && in.Side.Valid() {
			creates[in.Side.index()]++
		}
	}
	for _, in := range intents {
		if !in.Side.Valid() || in.ID == "" || in.Pair.ID != in.ID {
			r.log.Warn("dropping a malformed intent", "intent", in.ID)
			if !r.opts.DryRun {
				if err := r.commit(ctx, Batch{DeleteIntents: []string{in.ID}}, "malformed intent"); err != nil {
					return err
				}
			}
			continue
		}
		var err error
		switch {
		case in.Op == OpUpdate:
			_, err = r.resolveUpdate(ctx, in)
		case creates[in.Side.index()] > lookupLimit && full == nil:
			// Left to the run, which reads the side in full.
		case creates[in.Side.index()] > lookupLimit:
			r.resolveByListing(in, true)
			full[in.Side.index()] = true
		default:
			mode := resolveLeave
			if full != nil {
				mode = resolveAtRun
			}
			_, err = r.resolveCreate(ctx, in, full, mode)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// resolveMode says where a pending create is resolved.
type resolveMode int

const (
	// resolveLeave: a copy the lookup does not find is left to the next run's
	// full read (Recover, and a create whose answer was lost).
	resolveLeave resolveMode = iota
	// resolveAtRun: at the start of a run, which can read the target in full.
	resolveAtRun
	// resolveDrop: a copy the lookup does not find was never made (the create
	// was refused): the intent goes.
	resolveDrop
)

// resolveCreate looks the intent's copy up on the target and records it. It
// reports whether the copy exists.
//
// A copy not found by its correlation id may still exist: a provider that tags
// in a second request after the create (SuperOffice's foreign key) leaves an
// untagged copy when the process dies between the two. At the start of a run
// the target is therefore read in full and such a copy adopted (plan.go,
// adoptUntagged) before the create is planned again.
func (r *run) resolveCreate(ctx context.Context, in Intent, full *[2]bool, mode resolveMode) (bool, error) {
	t := in.Side
	var found []sdk.Event
	err := r.call(ctx, func() error {
		var err error
		found, err = r.link.endpoint(t).FindByCorrelation(ctx, in.ID)
		return err
	})
	if errors.Is(err, sdk.ErrUnsupported) {
		if mode != resolveAtRun {
			return false, nil
		}
		// Resolve by the listing instead: read the target in full, and let the copy
		// attach to the pair by the correlation id it carries (or be adopted).
		r.resolveByListing(in, false)
		full[t.index()] = true
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("resolve pending create %s on %s: %w", in.ID, t, err)
	}
	if len(found) == 0 && mode == resolveLeave {
		// Left for the run's full read, which can look for an untagged copy.
		return false, nil
	}
	if len(found) == 0 && mode == resolveAtRun {
		r.log.Info("pending create not found by its correlation id; looking for an untagged copy before creating again", "side", t, "pair", in.ID)
		r.resolveByListing(in, true)
		full[t.index()] = true
		return false, nil
	}
	slices.SortFunc(found, func(a, b sdk.Event) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	b := Batch{DeleteIntents: []string{in.ID}}
	if len(found) == 0 {
		r.log.Info("pending create never reached the target; it will be planned again", "side", t, "pair", in.ID)
		if r.opts.DryRun {
			return false, nil
		}
		return false, r.commit(ctx, b, "resolved intent "+in.ID)
	}
	got := found[0]
	np := in.Pair.Clone()
	ref := refOf(got)
	// The synced content is what we sent; a later edit of the copy still shows as
	// a change.
	ref.Hash = in.Pair.ref(t).Hash
	*np.ref(t) = ref
	r.install(np)
	b.PutPairs = []Pair{np.Clone()}
	r.log.Info("pending create found on target; recorded", "side", t, "pair", in.ID, "id", got.ID)
	for _, dup := range found[1:] {
		// Our own duplicates (same correlation id): remove them.
		a := Action{Op: OpDelete, Side: t, Pair: in.ID, ID: dup.ID, Title: dup.Title, Reason: "duplicate of a pending create"}
		if r.opts.DryRun {
			r.res.Plan = append(r.res.Plan, a)
			continue
		}
		if err := r.call(ctx, func() error { return r.link.endpoint(t).Delete(ctx, dup.ID, "") }); err != nil {
			return true, fmt.Errorf("remove duplicate %s on %s: %w", dup.ID, t, err)
		}
		r.done(a)
	}
	if r.opts.DryRun {
		return true, nil
	}
	return true, r.commit(ctx, b, "resolved intent "+in.ID)
}

// resolveByListing leaves a pending create to the run's full read of its target:
// the copy attaches by its correlation id, or is adopted when it carries none,
// else the create is planned again. fresh: the intent's pair replaces the stored
// one, so the run starts from what the create was about to record.
func (r *run) resolveByListing(in Intent, fresh bool) {
	t := in.Side
	p := r.idx.byID[in.ID]
	var prev *Pair
	if p != nil {
		c := p.Clone()
		prev = &c
	}
	installed := p == nil || fresh
	if installed {
		np := in.Pair.Clone()
		*np.ref(t) = Ref{Hash: in.Pair.ref(t).Hash}
		r.install(np)
		p = r.idx.byID[in.ID]
	}
	w := r.work(p)
	w.retryCreate = t
	w.adoptOn, w.adoptSince, w.adoptShape = t, in.Started, in.Shape
	w.adoptInstalled, w.adoptPrev = installed, prev
	r.settled = append(r.settled, in.ID)
}

// resolveUpdate reads the target of an unrecorded update. Unchanged since before
// the update: it never happened. Otherwise (our content, a later edit, or gone)
// the update is taken as done, so that what the user did after it counts as a
// change against it rather than against stale state.
func (r *run) resolveUpdate(ctx context.Context, in Intent) (bool, error) {
	t := in.Side
	id := in.Pair.ref(t).ID
	var cur sdk.Event
	err := r.call(ctx, func() error {
		var err error
		cur, err = r.link.endpoint(t).Get(ctx, id)
		return err
	})
	b := Batch{DeleteIntents: []string{in.ID}}
	landed := true
	switch {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return false, fmt.Errorf("resolve pending update %s on %s: %w", id, t, err)
	default:
		np := in.Pair.Clone()
		if r.hashOf(&np, cur) == in.Before {
			landed = false
		}
	}
	if landed {
		np := in.Pair.Clone()
		if err == nil {
			np.ref(t).Version = cur.Version
			np.ref(t).Extras = cloneMap(cur.Extras)
		}
		r.install(np)
		b.PutPairs = []Pair{np.Clone()}
		r.log.Info("pending update settled as done", "side", t, "pair", in.ID)
	}
	if r.opts.DryRun {
		return landed, nil
	}
	return landed, r.commit(ctx, b, "resolved intent "+in.ID)
}

// install puts p into the run's index, replacing the pair with its ID.
func (r *run) install(np Pair) {
	if p := r.idx.byID[np.ID]; p != nil {
		r.idx.update(p, func() { *p = np })
		return
	}
	r.idx.add(&np)
}
