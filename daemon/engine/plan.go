package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
)

// obsKind is what this run learned about one side of a pair.
type obsKind int

const (
	obsNone   obsKind = iota // not listed: unchanged as far as we know
	obsListed                // listed (or confirmed present) inside the window
	obsGone                  // confirmed deleted (or cancelled)
	obsOut                   // present but outside the window
)

type obs struct {
	kind obsKind
	// ev is the item as listed or read: set with obsListed, with obsOut when
	// read, and with obsGone when cancelled; nil otherwise.
	ev   *sdk.Event
	read bool // ev holds a read item (obsOut)
	// cancelled: the item is a meeting its organizer cancelled.
	cancelled bool
}

// work is one pair being looked at in this run.
type work struct {
	p   *Pair
	obs [2]obs
	// isNew: the pair was made for an item first seen in this run.
	isNew bool
	// retryCreate names the side of an unresolved intent's create: if the copy is
	// not found by the listing, the create is planned again.
	retryCreate Side
	// joined: two participants' copies were joined into this pair in this run.
	joined bool
	// declinedOn: the registry says the participant declined on this side.
	declinedOn Side
	// adoptOn and adoptSince: a pending create on adoptOn, begun at adoptSince,
	// whose copy was not found by its correlation id; adopted: an untagged copy
	// was found for it (adoptUntagged) and gets the correlation id written.
	adoptOn    Side
	adoptSince time.Time
	adoptShape string
	adopted    bool
	// adoptInstalled: the intent's pair was put in place of adoptPrev (nil: the
	// pair existed only in the intent); undone when nothing is adopted.
	adoptInstalled bool
	adoptPrev      *Pair
}

func (w *work) o(s Side) *obs { return &w.obs[s.index()] }

// state is a side's condition relative to the pair's record.
type state int

const (
	stUnchanged state = iota
	stChanged
	stGone
	stAbsent // the side has no copy
)

func (r *run) work(p *Pair) *work {
	w, ok := r.works[p.ID]
	if !ok {
		w = &work{p: p}
		r.works[p.ID] = w
	}
	return w
}

// hashOf hashes ev as the pair records it (endless series ignore a far end).
func (r *run) hashOf(p *Pair, ev sdk.Event) string {
	if p.Endless {
		return hashWith(ev, r.win.End)
	}
	return Hash(ev)
}

func refOf(ev sdk.Event) Ref {
	start, end := extent(ev)
	// The hash is the plain one; run.refOf rehashes with the window for endless series.
	return Ref{ID: ev.ID, Version: ev.Version, Hash: Hash(ev), Start: start, End: end, Series: ev.SeriesID, Extras: cloneMap(ev.Extras),
		Meeting: ev.MeetingKey, Response: ev.Response}
}

func (r *run) refOf(p *Pair, ev sdk.Event) Ref {
	ref := refOf(ev)
	ref.Hash = r.hashOf(p, ev)
	return ref
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (r *run) state(w *work, s Side) state {
	ref := w.p.ref(s)
	o := w.o(s)
	switch {
	case o.kind == obsGone:
		if ref.ID == "" {
			return stAbsent
		}
		return stGone
	case o.kind == obsListed:
		if ref.Hash == "" || r.hashOf(w.p, *o.ev) != ref.Hash {
			return stChanged
		}
		return stUnchanged
	case ref.Deleted:
		return stGone
	case ref.ID == "":
		return stAbsent
	}
	return stUnchanged
}

// plan matches the changes to pairs, confirms deletes, applies the guards and
// decides what to write.
func (r *run) plan(ctx context.Context) ([]*step, error) {
	var unpaired [2][]*sdk.Event
	for _, s := range sides {
		v := r.views[s.index()]
		for _, id := range v.ids() {
			ev := v.events[id]
			if p := r.matchListed(s, *ev); p != nil {
				w := r.work(p)
				*w.o(s) = obs{kind: obsListed, ev: ev}
				if ev.Cancelled {
					// A meeting its organizer cancelled: gone, and known to be cancelled.
					*w.o(s) = obs{kind: obsGone, ev: ev, cancelled: true}
				}
			} else {
				unpaired[s.index()] = append(unpaired[s.index()], ev)
			}
		}
	}
	r.adoptUntagged(&unpaired)
	if err := r.candidates(ctx); err != nil {
		return nil, err
	}
	r.crossMatch(&unpaired)
	if r.mt != nil {
		r.meetingMatch(&unpaired)
	}
	for _, s := range sides {
		r.newItems(s, unpaired[s.index()])
	}
	if r.mt != nil {
		if err := r.resolveWaiting(ctx); err != nil {
			return nil, err
		}
	}

	// Decide masters and singles before exceptions, each in pair-ID order.
	ws := make([]*work, 0, len(r.works))
	for _, w := range r.works {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool {
		ei, ej := ws[i].p.Kind == sdk.KindException, ws[j].p.Kind == sdk.KindException
		if ei != ej {
			return !ei
		}
		return ws[i].p.ID < ws[j].p.ID
	})
	if err := r.refreshFrozen(ctx, ws); err != nil {
		return nil, err
	}
	if r.mt != nil {
		if err := r.prefetch(ctx, ws); err != nil {
			return nil, err
		}
	}
	var steps []*step
	for _, w := range ws {
		steps = append(steps, r.decide(w)...)
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].class() < steps[j].class() })
	return steps, nil
}

// adoptSkew bounds how far from its intent the creation time an untagged copy
// reports may lie: the service's clock is not ours.
const adoptSkew = 10 * time.Minute

// How an untagged item matches what a pending create sent.
type adoptMatch int

const (
	adoptNone adoptMatch = iota
	// adoptShape: the kind, title and time that were sent; the rest as the
	// provider stored it (SuperOffice gives every appointment a type).
	adoptShape
	// adoptExact: the content that was sent.
	adoptExact
)

// adoptUntagged looks, for each pending create whose copy was not found by its
// correlation id, for that copy among the target's unpaired items: one without a
// correlation id, of the same kind, created no earlier than the intent (give or
// take adoptSkew), that matches what the create sent (adoptMatch). A provider
// that tags a new item in a second request leaves such a copy when the process
// dies between the two requests; adopting it (and writing the correlation id on
// it, stampAdopted) keeps the create from being made twice and the untagged copy
// from coming back as a new item. When none matches, the create is planned
// again.
func (r *run) adoptUntagged(unpaired *[2][]*sdk.Event) {
	var ws []*work
	for _, w := range r.works {
		if w.adoptOn != "" {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].p.ID < ws[j].p.ID })
	for _, w := range ws {
		t, p := w.adoptOn, w.p
		if r.idx.byID[p.ID] != p {
			continue
		}
		if o := w.o(t); o.kind == obsListed {
			// Found by the listing (a provider without correlation lookup, or an
			// exception claimed by its series and original start): stamp it when it
			// carries no correlation id.
			w.adopted = o.ev.CorrelationID == "" && p.ref(t).ID == o.ev.ID
			continue
		}
		if p.ref(t).live() || p.ref(t).Hash == "" {
			continue
		}
		evs := unpaired[t.index()]
		best, bestMatch := -1, adoptNone
		for i, ev := range evs {
			m := r.adoptMatch(w, *ev)
			if m == adoptNone {
				continue
			}
			if m > bestMatch || (m == bestMatch && adoptBefore(*ev, *evs[best], w.adoptSince)) {
				best, bestMatch = i, m
			}
		}
		if best < 0 {
			r.log.Info("no untagged copy of the pending create; it will be planned again", "side", t, "pair", p.ID)
			r.notAdopted(w, unpaired)
			continue
		}
		ev := evs[best]
		// The copy as the target stored it is what was synced, as after a create.
		r.idx.update(p, func() { *p.ref(t) = r.refOf(p, *ev) })
		*w.o(t) = obs{kind: obsListed, ev: ev}
		w.adopted = true
		unpaired[t.index()] = slices.Delete(slices.Clone(evs), best, best+1)
		r.log.Info("untagged copy of a pending create adopted", "side", t, "pair", p.ID, "id", ev.ID)
		r.note("pair %s: %s item %s is the copy an interrupted create left without its correlation id; adopted", p.ID, t, ev.ID)
	}
}

// adoptMatch tells how ev, an unpaired item of the target, matches the pending
// create of w.
func (r *run) adoptMatch(w *work, ev sdk.Event) adoptMatch {
	t, p := w.adoptOn, w.p
	if ev.CorrelationID != "" || ev.Cancelled || orSingle(ev.Kind) != p.Kind {
		return adoptNone
	}
	if !ev.Created.IsZero() && ev.Created.Before(w.adoptSince.Add(-adoptSkew)) {
		return adoptNone
	}
	if p.Kind == sdk.KindException {
		m := r.idx.byID[p.Series]
		if m == nil || m.ref(t).ID == "" || ev.SeriesID != m.ref(t).ID || !ev.OriginalStart.Equal(p.OriginalStart) {
			return adoptNone
		}
	}
	if r.hashOf(p, ev) == p.ref(t).Hash {
		return adoptExact
	}
	if w.adoptShape == "" {
		return adoptNone
	}
	// Not looser than this: a copy its user retitled or moved before the
	// restart cannot be told from a new item of theirs, which must not be taken
	// over (a duplicate is the lesser harm).
	if shapeOf(ev) == w.adoptShape {
		return adoptShape
	}
	return adoptNone
}

// adoptBefore orders candidates for adoption: the first created at or after the
// intent began, then the latest before it; ties by id.
func adoptBefore(a, b sdk.Event, since time.Time) bool {
	aAfter, bAfter := !a.Created.Before(since), !b.Created.Before(since)
	switch {
	case aAfter != bAfter:
		return aAfter
	case !a.Created.Equal(b.Created):
		if aAfter {
			return a.Created.Before(b.Created)
		}
		return a.Created.After(b.Created)
	}
	return a.ID < b.ID
}

// stampAdopted writes the correlation id on an adopted copy: an update from the
// other side (its content, which the copy already holds, unless it changed since).
// A source that is gone takes the usual way (the copy is deleted with it).
func (r *run) stampAdopted(w *work) []*step {
	if !w.adopted {
		return nil
	}
	t := w.adoptOn
	x := t.Other()
	if !w.p.ref(t).live() || !w.p.ref(x).live() {
		return nil
	}
	if sx := r.state(w, x); sx != stUnchanged && sx != stChanged {
		return nil
	}
	if r.state(w, t) != stUnchanged {
		return nil // edited meanwhile: the usual rules decide
	}
	st := r.updateStep(w, t, x, "write the correlation id on the copy an interrupted create left untagged")
	st.carry = true
	return []*step{st}
}

// notAdopted undoes what resolveByListing put in place when the target holds no
// copy: the create never happened, and the run goes on from the stored pair (or,
// for a pair only the intent knew, from the original as a new item), as if the
// intent had never been written.
func (r *run) notAdopted(w *work, unpaired *[2][]*sdk.Event) {
	w.adoptOn = ""
	if !w.adoptInstalled {
		return
	}
	w.retryCreate = ""
	if w.adoptPrev != nil {
		r.install(w.adoptPrev.Clone())
		return
	}
	for _, s := range sides {
		if o := w.o(s); o.kind == obsListed {
			unpaired[s.index()] = append(unpaired[s.index()], o.ev)
		}
	}
	r.idx.remove(w.p)
	delete(r.works, w.p.ID)
}

// matchListed finds the pair of a listed item: by its id, by series and original
// start (exceptions), or by the correlation id it carries when the pair has no
// live item on this side.
func (r *run) matchListed(s Side, ev sdk.Event) *Pair {
	if p := r.idx.side(s, ev.ID); p != nil {
		return p
	}
	claimable := func(p *Pair) bool {
		if p == nil || p.ref(s).live() {
			if p == nil {
				return false
			}
			// A live ref with another id: only an exception can move to a new id.
			if p.Kind != sdk.KindException {
				return false
			}
		}
		if w, ok := r.works[p.ID]; ok && w.o(s).kind == obsListed {
			return false // already claimed by another listed item
		}
		return true
	}
	if ev.Kind == sdk.KindException {
		if m := r.idx.side(s, ev.SeriesID); m != nil {
			if p := r.idx.byExc[keyOf(m.ID, ev.OriginalStart)]; claimable(p) {
				r.idx.update(p, func() { p.ref(s).ID = ev.ID; p.ref(s).Deleted = false })
				return p
			}
		}
	}
	if ev.CorrelationID != "" {
		if p := r.idx.byID[ev.CorrelationID]; p != nil && !p.ref(s).live() && claimable(p) && p.Kind == orSingle(ev.Kind) {
			r.idx.update(p, func() { p.ref(s).ID = ev.ID; p.ref(s).Deleted = false })
			return p
		}
	}
	return nil
}

func orSingle(k sdk.EventKind) sdk.EventKind {
	if k == "" {
		return sdk.KindSingle
	}
	return k
}

// candidates finds paired items that may have been deleted (reported removed, or
// missing from a full read), applies the mass-delete guard, and confirms each
// with a read.
func (r *run) candidates(ctx context.Context) error {
	for _, s := range sides {
		v := r.views[s.index()]
		var cands []*Pair
		seen := map[string]bool{}
		add := func(p *Pair) {
			if p == nil || seen[p.ID] || !p.ref(s).live() {
				return
			}
			if w, ok := r.works[p.ID]; ok && w.o(s).kind != obsNone {
				return
			}
			seen[p.ID] = true
			cands = append(cands, p)
		}
		ids := make([]string, 0, len(v.removed))
		for id := range v.removed {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			add(r.idx.side(s, id))
		}
		if v.full {
			for _, p := range r.idx.sorted() {
				add(p)
			}
		}
		var confirm []*Pair
		for _, p := range cands {
			if r.quarantined(p) {
				continue
			}
			ref := p.ref(s)
			if !overlaps(ref.Start, ref.End, r.win) {
				r.work(p).o(s).kind = obsOut
				continue
			}
			confirm = append(confirm, p)
		}
		if len(confirm) > 0 && !r.opts.ForceDelete && r.guardErr == nil {
			paired := 0
			for _, p := range r.idx.byID {
				if ref := p.ref(s); ref.live() && overlaps(ref.Start, ref.End, r.win) && !r.quarantined(p) {
					paired++
				}
			}
			n := len(confirm)
			if n >= r.e.cfg.MassDeleteMin && float64(n) >= r.e.cfg.MassDeleteRatio*float64(paired) {
				r.guardErr = &MassDeleteError{Side: s, Deletes: n, Paired: paired, Profile: r.link.Profile, Link: r.link.Name}
				if !r.opts.DryRun {
					return r.guardErr
				}
			}
		}
		// Masters first: the exceptions of a deleted series are gone with it.
		sort.SliceStable(confirm, func(i, j int) bool {
			return confirm[i].Kind != sdk.KindException && confirm[j].Kind == sdk.KindException
		})
		for _, p := range confirm {
			w := r.work(p)
			if p.Kind == sdk.KindException {
				if m := r.idx.byID[p.Series]; m != nil {
					if mw, ok := r.works[m.ID]; ok && mw.o(s).kind == obsGone {
						w.o(s).kind = obsGone
						continue
					}
				}
			}
			id := p.ref(s).ID
			var ev sdk.Event
			err := r.call(ctx, func() error {
				var err error
				ev, err = r.link.endpoint(s).Get(ctx, id)
				return err
			})
			switch {
			case errors.Is(err, sdk.ErrNotFound):
				w.o(s).kind = obsGone
			case err != nil:
				return fmt.Errorf("confirm delete of %s on %s: %w", id, s, err)
			case ev.Cancelled:
				*w.o(s) = obs{kind: obsGone, ev: &ev, cancelled: true}
			case InWindow(ev, r.win):
				*w.o(s) = obs{kind: obsListed, ev: &ev}
			default:
				*w.o(s) = obs{kind: obsOut, ev: &ev, read: true}
			}
		}
	}
	return nil
}

// crossMatch pairs unpaired items of both sides that belong together: a copy
// carries the correlation id derived from its original (or the same id as its
// partner, after a re-create); exceptions match by series and original start;
// last, equal iCalUIDs.
func (r *run) crossMatch(unpaired *[2][]*sdk.Event) {
	if len(unpaired[0]) == 0 || len(unpaired[1]) == 0 {
		return
	}
	used := [2]map[string]bool{{}, {}}
	// keys: every correlation id an unpaired item answers to.
	keys := [2]map[string]int{{}, {}}
	for _, s := range sides {
		for i, ev := range unpaired[s.index()] {
			keys[s.index()][CorrelationFor(s, ev.ID)] = i
			if ev.CorrelationID != "" {
				if _, dup := keys[s.index()][ev.CorrelationID]; !dup {
					keys[s.index()][ev.CorrelationID] = i
				}
			}
		}
	}
	pairUp := func(id string, so, cal *sdk.Event, origin Side) {
		used[0][so.ID], used[1][cal.ID] = true, true
		p := &Pair{ID: id, Kind: orSingle(so.Kind), Origin: origin, OriginalStart: so.OriginalStart}
		p.SO.ID, p.Cal.ID = so.ID, cal.ID
		if so.Kind == sdk.KindException {
			if m := r.idx.side(SuperOffice, so.SeriesID); m != nil {
				p.Series = m.ID
			}
		}
		p.Endless = endless(*so) || endless(*cal)
		r.idx.add(p)
		w := r.work(p)
		w.isNew = true
		*w.o(SuperOffice) = obs{kind: obsListed, ev: so}
		*w.o(Calendar) = obs{kind: obsListed, ev: cal}
		r.note("paired %s %s with %s %s by %s", SuperOffice, so.ID, Calendar, cal.ID, map[bool]string{true: "correlation id", false: "series or iCalUID"}[origin != ""])
	}
	kindOK := func(a, b *sdk.Event) bool {
		if orSingle(a.Kind) != orSingle(b.Kind) {
			return false
		}
		return a.Kind != sdk.KindException || a.OriginalStart.Equal(b.OriginalStart)
	}
	// 1. Correlation ids, masters and singles before exceptions (which need their
	// series paired).
	for _, pass := range []bool{false, true} {
		for _, s := range sides {
			o := s.Other()
			for _, ev := range unpaired[s.index()] {
				if ev.CorrelationID == "" || used[s.index()][ev.ID] || (ev.Kind == sdk.KindException) != pass {
					continue
				}
				j, ok := keys[o.index()][ev.CorrelationID]
				if !ok {
					continue
				}
				other := unpaired[o.index()][j]
				if used[o.index()][other.ID] || !kindOK(ev, other) || r.idx.byID[ev.CorrelationID] != nil {
					continue
				}
				origin, _ := originOf(ev.CorrelationID)
				if s == SuperOffice {
					pairUp(ev.CorrelationID, ev, other, origin)
				} else {
					pairUp(ev.CorrelationID, other, ev, origin)
				}
			}
		}
	}
	// 2. Exceptions by series pair and original start.
	byKey := map[excKey]*sdk.Event{}
	for _, ev := range unpaired[1] {
		if ev.Kind != sdk.KindException || used[1][ev.ID] {
			continue
		}
		if m := r.idx.side(Calendar, ev.SeriesID); m != nil {
			byKey[keyOf(m.ID, ev.OriginalStart)] = ev
		}
	}
	for _, ev := range unpaired[0] {
		if ev.Kind != sdk.KindException || used[0][ev.ID] {
			continue
		}
		m := r.idx.side(SuperOffice, ev.SeriesID)
		if m == nil {
			continue
		}
		k := keyOf(m.ID, ev.OriginalStart)
		cal, ok := byKey[k]
		if !ok || used[1][cal.ID] || r.idx.byExc[k] != nil {
			continue
		}
		id := CorrelationFor(SuperOffice, ev.ID)
		if r.idx.byID[id] != nil {
			continue
		}
		pairUp(id, ev, cal, m.Origin)
	}
	// 3. iCalUID, for items both systems know by the same UID.
	byUID := map[string]*sdk.Event{}
	for _, ev := range unpaired[1] {
		if ev.ICalUID != "" && !used[1][ev.ID] && ev.Kind != sdk.KindException {
			byUID[ev.ICalUID] = ev
		}
	}
	for _, ev := range unpaired[0] {
		if ev.ICalUID == "" || used[0][ev.ID] || ev.Kind == sdk.KindException {
			continue
		}
		cal, ok := byUID[ev.ICalUID]
		if !ok || used[1][cal.ID] || !kindOK(ev, cal) || !sameSlot(*ev, *cal) {
			continue
		}
		id := CorrelationFor(SuperOffice, ev.ID)
		if r.idx.byID[id] != nil {
			continue
		}
		pairUp(id, ev, cal, "")
	}
	for _, s := range sides {
		keep := unpaired[s.index()][:0]
		for _, ev := range unpaired[s.index()] {
			if !used[s.index()][ev.ID] {
				keep = append(keep, ev)
			}
		}
		unpaired[s.index()] = keep
	}
}

// newItems makes pairs for items seen for the first time.
func (r *run) newItems(s Side, evs []*sdk.Event) {
	// Masters and singles first, so exceptions find their series.
	sort.SliceStable(evs, func(i, j int) bool {
		return evs[i].Kind != sdk.KindException && evs[j].Kind == sdk.KindException
	})
	for _, ev := range evs {
		id := CorrelationFor(s, ev.ID)
		switch {
		case ev.Cancelled:
			continue
		case !InWindow(*ev, r.win):
			continue
		case ev.CorrelationID != "" && ev.CorrelationID != id:
			// A copy we made whose original is gone or outside the window: never
			// bring it back as a new item.
			r.note("%s item %s is a copy (correlation id %s) whose original was not found; left alone", s, ev.ID, ev.CorrelationID)
			continue
		case r.idx.byID[id] != nil:
			// The pair of this id exists but holds another item on this side.
			r.note("%s item %s conflicts with pair %s; left alone", s, ev.ID, id)
			continue
		}
		p := &Pair{ID: id, Kind: orSingle(ev.Kind), Origin: s, OriginalStart: ev.OriginalStart, Endless: endless(*ev)}
		if ev.Kind == sdk.KindException {
			m := r.idx.side(s, ev.SeriesID)
			if m == nil {
				r.note("%s exception %s: its series is not synced; left alone", s, ev.ID)
				continue
			}
			if prior := r.idx.byExc[keyOf(m.ID, ev.OriginalStart)]; prior != nil {
				r.note("%s exception %s: its occurrence is already paired; left alone", s, ev.ID)
				continue
			}
			p.Series = m.ID
			p.Origin = m.Origin
			p.Endless = false
			if r.mt != nil && m.Role != RoleNone {
				if m.Role == RoleParticipant {
					continue // each system keeps its participants' occurrences
				}
				p.Role, p.Owner, p.Meeting, p.WaitSince = m.Role, m.Owner, m.Meeting, m.WaitSince
			}
		}
		p.ref(s).ID = ev.ID
		r.idx.add(p)
		w := r.work(p)
		w.isNew = true
		*w.o(s) = obs{kind: obsListed, ev: ev}
	}
}

func (r *run) quarantined(p *Pair) bool {
	return !p.QuarantinedUntil.IsZero() && r.now.Before(p.QuarantinedUntil)
}

func (r *run) markDirty(p *Pair) {
	if r.idx.byID[p.ID] == p {
		r.dirty[p.ID] = p
	}
}

// record accepts the listed content of the listed sides as synced.
func (r *run) record(w *work, only ...Side) {
	for _, s := range sides {
		if len(only) > 0 && !slices.Contains(only, s) {
			continue
		}
		o := w.o(s)
		if o.kind != obsListed {
			continue
		}
		nr := r.refOf(w.p, *o.ev)
		if old := *w.p.ref(s); old.ID == nr.ID && old.Version == nr.Version && old.Hash == nr.Hash && old.Start.Equal(nr.Start) && old.End.Equal(nr.End) && !old.Deleted &&
			old.Meeting == nr.Meeting && old.Response == nr.Response {
			continue
		}
		r.idx.update(w.p, func() { *w.p.ref(s) = nr })
		if s == SuperOffice {
			w.p.SOPrivate = o.ev.Privacy == sdk.PrivacyPrivate
		}
		r.markDirty(w.p)
	}
}

// drop forgets a pair (and, for a series, its exceptions).
func (r *run) drop(p *Pair) {
	if r.mt != nil && p.Role == RoleOrganizer {
		r.mt.dropped = append(r.mt.dropped, p.Clone())
	}
	for _, x := range r.idx.exceptionsOf(p.ID) {
		r.idx.remove(x)
		r.drops[x.ID] = true
		delete(r.dirty, x.ID)
	}
	r.idx.remove(p)
	r.drops[p.ID] = true
	delete(r.dirty, p.ID)
}

// detach records that side s no longer has a copy (deleted there, not carried over).
func (r *run) detach(w *work, s Side, why string) {
	r.idx.update(w.p, func() { *w.p.ref(s) = Ref{} })
	w.p.Note = why
	r.markDirty(w.p)
	r.note("pair %s: %s", w.p.ID, why)
}

func (r *run) soPrivate(w *work) bool {
	if o := w.o(SuperOffice); o.kind == obsListed {
		return o.ev.Privacy == sdk.PrivacyPrivate
	}
	return w.p.SOPrivate
}

// privateRule is the private policy for this pair: it applies to items that came
// from SuperOffice and are private there.
func (r *run) privateRule(w *work) PrivatePolicy {
	if w.p.Origin != SuperOffice || !r.soPrivate(w) {
		return PrivateSync
	}
	return r.pol.Private
}

// canFlow reports whether changes of side x may be written to the other side.
func (r *run) canFlow(w *work, x Side) bool {
	if !r.pol.allows(x) {
		return false
	}
	if x == Calendar && r.privateRule(w) != PrivateSync {
		return false // a placeholder's edits are not copied back
	}
	if w.p.Owner != "" && w.p.Owner != x && r.pol.allows(w.p.Owner) {
		return false // a meeting belongs to its owner
	}
	return true
}

// updateOwner sets the meeting owner the first time the pair has attendees.
func (r *run) updateOwner(w *work) {
	if w.p.Owner != "" {
		return
	}
	var has []Side
	for _, s := range sides {
		if o := w.o(s); o.kind == obsListed && isMeeting(*o.ev) {
			has = append(has, s)
		}
	}
	switch len(has) {
	case 0:
		return
	case 1:
		w.p.Owner = has[0]
	default:
		w.p.Owner = w.p.Origin
		if w.p.Owner == "" {
			w.p.Owner = SuperOffice
		}
	}
	r.markDirty(w.p)
}

// decide turns one pair's observations into writes (or records).
func (r *run) decide(w *work) []*step {
	p := w.p
	if r.idx.byID[p.ID] != p {
		return nil // dropped meanwhile (a series' exception)
	}
	if r.quarantined(p) {
		r.note("pair %s is quarantined until %s (it kept changing); left alone", p.ID, p.QuarantinedUntil.UTC().Format("2006-01-02 15:04Z"))
		return nil
	}
	if !p.QuarantinedUntil.IsZero() {
		p.QuarantinedUntil = time.Time{}
		p.Writes = nil
		r.markDirty(p)
	}
	if r.frozen(w) {
		return nil
	}
	r.updateOwner(w)
	if st := r.stampAdopted(w); st != nil {
		return st
	}
	if r.mt != nil {
		if st, done := r.decideMeeting(w); done {
			return st
		}
	}
	if st := r.followSeries(w); st != nil {
		return st
	}
	so, cal := r.state(w, SuperOffice), r.state(w, Calendar)
	noCopy := func(s state) bool { return s == stGone || s == stAbsent }
	switch {
	case noCopy(so) && noCopy(cal):
		if !w.isNew {
			r.drop(p)
		}
		return nil
	case w.retryCreate != "" && w.p.ref(w.retryCreate).ID == "" && r.state(w, w.retryCreate.Other()) == stUnchanged:
		return r.newOn(w, w.retryCreate.Other())
	case so == stChanged && cal == stChanged:
		return r.conflict(w)
	}
	for _, x := range sides {
		y := x.Other()
		sx, sy := r.state(w, x), r.state(w, y)
		switch {
		case sx == stChanged && sy == stUnchanged:
			return r.changedOn(w, x)
		case sx == stChanged && sy == stAbsent:
			return r.newOn(w, x)
		case sx == stChanged && sy == stGone:
			return r.changedVsDeleted(w, x)
		case sx == stGone && sy == stUnchanged:
			return r.deletedOn(w, x)
		}
	}
	r.record(w) // unchanged content; versions and extents may have moved
	return nil
}

// refreshFrozen reads the sides of frozen pairs the run has not seen, so that a
// pair is let out of the freeze only on what both sides hold now, never on an
// extent remembered from before the freeze.
func (r *run) refreshFrozen(ctx context.Context, ws []*work) error {
	for _, w := range ws {
		if !w.p.Frozen || r.quarantined(w.p) {
			continue
		}
		for _, s := range sides {
			o := w.o(s)
			ref := w.p.ref(s)
			if o.kind != obsNone || !ref.live() {
				continue
			}
			ev, err := r.readFresh(ctx, s, ref.ID)
			switch {
			case errors.Is(err, sdk.ErrNotFound):
				*o = obs{kind: obsGone, ev: &ev, cancelled: ev.Cancelled}
			case err != nil:
				return fmt.Errorf("read frozen item %s on %s: %w", ref.ID, s, err)
			case InWindow(ev, r.win):
				*o = obs{kind: obsListed, ev: &ev}
			default:
				*o = obs{kind: obsOut, ev: &ev, read: true}
			}
		}
	}
	return nil
}

// frozen handles a pair with a side outside the window: nothing is written; what
// was learned is kept, but not the content hashes, so changes made meanwhile are
// still seen once both sides are back inside.
func (r *run) frozen(w *work) bool {
	out := false
	for _, s := range sides {
		ref := w.p.ref(s)
		o := w.o(s)
		switch o.kind {
		case obsOut:
			out = true
		case obsListed:
			if !InWindow(*o.ev, r.win) {
				out = true
			}
		case obsNone:
			if ref.live() && !overlaps(ref.Start, ref.End, r.win) {
				out = true
			}
		}
	}
	if !out || w.isNew {
		if w.p.Frozen {
			w.p.Frozen = false
			r.markDirty(w.p)
		}
		return false
	}
	if !w.p.Frozen {
		w.p.Frozen = true
		r.markDirty(w.p)
	}
	for _, s := range sides {
		o := w.o(s)
		ref := w.p.ref(s)
		switch {
		case o.kind == obsListed || (o.kind == obsOut && o.read):
			start, end := extent(*o.ev)
			nr := *ref
			nr.ID, nr.Version, nr.Start, nr.End, nr.Extras, nr.Deleted = o.ev.ID, o.ev.Version, start, end, cloneMap(o.ev.Extras), false
			r.idx.update(w.p, func() { *ref = nr })
			r.markDirty(w.p)
		case o.kind == obsGone && ref.ID != "" && !ref.Deleted:
			ref.Deleted = true
			r.markDirty(w.p)
		}
	}
	r.note("pair %s is outside the window on one side; frozen", w.p.ID)
	return true
}

// changedOn: x changed, y did not.
func (r *run) changedOn(w *work, x Side) []*step {
	y := x.Other()
	p := w.p
	if p.Owner == y && r.pol.allows(y) && p.ref(y).live() {
		r.note("pair %s: meeting owned by %s; the edit on %s is replaced by the owner's version", p.ID, y, x)
		return []*step{r.updateStep(w, x, y, "meeting owned by "+string(y)+": edit on "+string(x)+" reverted")}
	}
	if x == SuperOffice && r.privateRule(w) == PrivateSkip {
		if p.Cal.live() {
			return []*step{r.deleteStep(w, Calendar, "appointment became private (private = skip)")}
		}
		r.record(w)
		return nil
	}
	if !r.canFlow(w, x) {
		r.record(w)
		return nil
	}
	return []*step{r.updateStep(w, y, x, "changed on "+string(x))}
}

// newOn: x has an item (new, or changed) and y has no copy.
func (r *run) newOn(w *work, x Side) []*step {
	y := x.Other()
	p := w.p
	keep := func() []*step {
		if w.isNew {
			r.idx.remove(p) // nothing to remember about an item that is not synced
			delete(r.works, p.ID)
			return nil
		}
		r.record(w)
		return nil
	}
	if !r.canFlow(w, x) || (x == SuperOffice && r.privateRule(w) == PrivateSkip) {
		return keep()
	}
	if x == SuperOffice && r.soPrivate(w) && r.pol.Private == PrivateSkip && w.isNew {
		return keep()
	}
	if p.Kind == sdk.KindException {
		m := r.idx.byID[p.Series]
		ready := false
		if m != nil {
			ready = m.ref(y).live()
			if mw, ok := r.works[m.ID]; ok && (mw.o(y).kind == obsGone || mw.o(x).kind == obsGone) {
				ready = false // the series is being deleted
			}
			if r.creating[m.ID] == y {
				ready = true // or made anew
			}
		}
		if !ready {
			r.note("pair %s: exception waits for its series on %s", p.ID, y)
			return keep()
		}
	}
	reason := "new on " + string(x)
	if !w.isNew {
		reason = "no copy on " + string(y)
	}
	r.creating[p.ID] = y
	return []*step{r.createStep(w, y, x, reason)}
}

// changedVsDeleted: x changed, y deleted its copy.
func (r *run) changedVsDeleted(w *work, x Side) []*step {
	y := x.Other()
	p := w.p
	yo := w.o(y)
	ownerDeleted := p.Owner == y || (yo.cancelled && isMeeting(*yo.ev))
	deleteWins := ownerDeleted ||
		(r.pol.Conflict == ConflictSuperOffice && y == SuperOffice) ||
		(r.pol.Conflict == ConflictCalendar && y == Calendar) ||
		!r.canFlow(w, x)
	if deleteWins && r.pol.allows(y) && !(y == Calendar && r.privateRule(w) != PrivateSync) {
		st := r.deleteStep(w, x, "deleted on "+string(y)+" (wins over the edit on "+string(x)+")")
		if !ownerDeleted {
			st.conflictWinner = y
		}
		return []*step{st}
	}
	if !r.canFlow(w, x) {
		r.detach(w, y, "deleted on "+string(y)+"; not carried over")
		r.record(w, x)
		return nil
	}
	r.note("pair %s: edited on %s and deleted on %s; the edit wins and is copied again", p.ID, x, y)
	st := r.createStep(w, y, x, "edited on "+string(x)+" after the delete on "+string(y))
	st.conflictWinner = x
	r.creating[p.ID] = y
	return []*step{st}
}

// deletedOn: x deleted its item, y did not change.
func (r *run) deletedOn(w *work, x Side) []*step {
	y := x.Other()
	p := w.p
	xo := w.o(x)
	if xo.cancelled && isMeeting(*xo.ev) && r.pol.allows(x) {
		return []*step{r.deleteStep(w, y, "meeting cancelled on "+string(x))}
	}
	if !r.pol.allows(x) || (p.Owner != "" && p.Owner != x && r.pol.allows(p.Owner)) || (x == Calendar && r.privateRule(w) != PrivateSync) {
		r.detach(w, x, "deleted on "+string(x)+"; not carried over")
		return nil
	}
	return []*step{r.deleteStep(w, y, "deleted on "+string(x))}
}

// conflict: both sides changed.
func (r *run) conflict(w *work) []*step {
	p := w.p
	so, cal := w.o(SuperOffice), w.o(Calendar)
	if r.crossEqual(w) {
		r.record(w)
		return nil
	}
	var winner Side
	counted := true
	switch {
	case p.Owner != "" && r.pol.allows(p.Owner):
		winner, counted = p.Owner, false
	case !r.pol.allows(Calendar):
		winner, counted = SuperOffice, false
	case !r.pol.allows(SuperOffice):
		winner, counted = Calendar, false
	case r.privateRule(w) != PrivateSync:
		winner, counted = SuperOffice, false
	case r.pol.Conflict == ConflictSuperOffice:
		winner = SuperOffice
	case r.pol.Conflict == ConflictCalendar:
		winner = Calendar
	default:
		winner = SuperOffice
		if cal.ev.Updated.After(so.ev.Updated) {
			winner = Calendar
		}
	}
	loser := winner.Other()
	if winner == SuperOffice && r.privateRule(w) == PrivateSkip {
		return []*step{r.deleteStep(w, Calendar, "appointment became private (private = skip)")}
	}
	if p.ref(loser).ID == "" {
		return r.newOn(w, winner)
	}
	if counted {
		r.note("pair %s: changed on both sides; kept the %s version, the %s edit was overwritten", p.ID, winner, loser)
	}
	st := r.updateStep(w, loser, winner, "conflict: "+string(winner)+" wins")
	if counted {
		st.conflictWinner = winner
	}
	return []*step{st}
}

// crossEqual reports whether both listed sides already hold the same content.
func (r *run) crossEqual(w *work) bool {
	so, cal := w.o(SuperOffice), w.o(Calendar)
	if so.kind != obsListed || cal.kind != obsListed {
		return false
	}
	proj := r.project(w, *so.ev, SuperOffice)
	return r.hashOf(w.p, proj) == r.hashOf(w.p, *cal.ev)
}

// sameSlot guards iCalUID matches: a UID shared by chance (or by a system that
// makes them up per calendar) pairs nothing unless the items also agree on time
// and title.
func sameSlot(a, b sdk.Event) bool {
	return a.AllDay == b.AllDay && stamp(a.Start, a.AllDay) == stamp(b.Start, b.AllDay) &&
		stamp(a.End, a.AllDay) == stamp(b.End, b.AllDay) && strings.TrimSpace(a.Title) == strings.TrimSpace(b.Title)
}

// followSeries: when a series is made anew on a side (its edit beat a delete
// there), its exceptions that went with the delete are made anew too, instead of
// following the delete.
func (r *run) followSeries(w *work) []*step {
	p := w.p
	if p.Kind != sdk.KindException {
		return nil
	}
	m := r.idx.byID[p.Series]
	if m == nil {
		return nil
	}
	for _, x := range sides {
		y := x.Other()
		anew := r.creating[m.ID] == x ||
			(m.ref(x).live() && p.ref(x).Series != "" && p.ref(x).Series != m.ref(x).ID)
		if !anew {
			continue
		}
		sx, sy := r.state(w, x), r.state(w, y)
		if (sx != stGone && sx != stAbsent) || (sy != stUnchanged && sy != stChanged) {
			continue
		}
		r.creating[p.ID] = x
		return []*step{r.createStep(w, x, y, "series made anew on "+string(x))}
	}
	return nil
}
