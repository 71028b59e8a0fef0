package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"synchronizer/plugins/sdk"
)

// step is one planned write with what carrying it out needs.
type step struct {
	// act is the planned write until it is in the result's plan, at plan.
	act  *Action
	plan int
	w    *work
	op   Op
	to   Side
	from Side // the side copied from (create, update)
	// conflictWinner, when set, counts a conflict once the write succeeds.
	conflictWinner Side
	// response, when set, makes the step write only the calendar owner's answer to
	// the item on side `to` (a participant's copy).
	response sdk.Response
	// carry: an update that carries a changed answer, so it is written even though
	// the content (which leaves answers out) is the same.
	carry bool
	// keep: a delete that leaves the pair in place (a declined participant's copy).
	keep bool
}

// class orders execution: masters and singles are written before exceptions
// (which need their series); a series is deleted before its exceptions, whose
// own deletes then have nothing left to do (deleting an exception first would
// change the master, which the series delete would take for an edit).
func (st *step) class() int {
	exc := st.w.p.Kind == sdk.KindException
	switch {
	case st.op != OpDelete && !exc:
		return 0
	case st.op != OpDelete:
		return 1
	case !exc:
		return 2
	}
	return 3
}

func (r *run) newStep(w *work, op Op, to, from Side, reason string) *step {
	a := Action{Op: op, Side: to, Pair: w.p.ID, ID: w.p.ref(to).ID, Kind: w.p.Kind, Reason: reason}
	if from != "" {
		a.Source = w.p.ref(from).ID
		if o := w.o(from); o.kind == obsListed {
			a.Title, a.Start = o.ev.Title, o.ev.Start
			if from == SuperOffice && to == Calendar && r.privateRule(w) == PrivateBusy {
				a.Title = BusyTitle
			}
		}
	} else if o := w.o(to); o.kind == obsListed {
		a.Title, a.Start = o.ev.Title, o.ev.Start
	}
	return &step{act: &a, w: w, op: op, to: to, from: from}
}

func (r *run) createStep(w *work, to, from Side, reason string) *step {
	st := r.newStep(w, OpCreate, to, from, reason)
	st.act.ID = ""
	return st
}

func (r *run) updateStep(w *work, to, from Side, reason string) *step {
	return r.newStep(w, OpUpdate, to, from, reason)
}

func (r *run) deleteStep(w *work, to Side, reason string) *step {
	return r.newStep(w, OpDelete, to, "", reason)
}

// respondStep writes the answer want to the participant's copy on side to.
func (r *run) respondStep(w *work, to Side, want sdk.Response, reason string) *step {
	st := r.newStep(w, OpUpdate, to, "", reason)
	st.response = want
	return st
}

// project maps src (of side from) to what the other side should hold.
func (r *run) project(w *work, src sdk.Event, from Side) sdk.Event {
	ev := sdk.Event{
		Kind:            orSingle(src.Kind),
		OriginalStart:   src.OriginalStart,
		Recurrence:      slices.Clone(src.Recurrence),
		Cancelled:       src.Cancelled,
		Title:           src.Title,
		Description:     src.Description,
		DescriptionHTML: src.DescriptionHTML,
		Location:        src.Location,
		Start:           src.Start,
		End:             src.End,
		TimeZone:        src.TimeZone,
		AllDay:          src.AllDay,
		ShowAs:          src.ShowAs,
		Privacy:         src.Privacy,
		HasReminder:     src.HasReminder,
		ReminderMinutes: src.ReminderMinutes,
		Category:        src.Category,
		Organizer:       src.Organizer,
		Attendees:       slices.Clone(src.Attendees),
		IsOrganizer:     src.IsOrganizer,
		Response:        src.Response,
	}
	if (w.p.Endless || endless(src)) && ev.Kind == sdk.KindMaster {
		ev.Recurrence = openEnded(ev.Recurrence, src, r.win.End)
	}
	if r.mt != nil {
		r.translate(&ev, from, w.p.Role)
	}
	if from == SuperOffice && r.privateRule(w) == PrivateBusy {
		ev.Title = BusyTitle
		ev.Description, ev.DescriptionHTML, ev.Location, ev.Category = "", "", "", ""
		ev.Attendees, ev.Organizer, ev.IsOrganizer, ev.Response = nil, sdk.Attendee{}, false, ""
		ev.HasReminder, ev.ReminderMinutes = false, 0
		ev.Privacy = sdk.PrivacyPrivate
	}
	return ev
}

// openEnded drops an UNTIL or COUNT that ends at or beyond cut: the horizon a
// provider without endless series put on a series that has no end.
func openEnded(lines []string, ev sdk.Event, cut time.Time) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		rl, ok := parseRecLine(l)
		if !ok || rl.name != "RRULE" {
			out = append(out, l)
			continue
		}
		parts := rruleParts(rl.value)
		if seriesEndsAfter(parts, ev, cut) {
			delete(parts, "UNTIL")
			delete(parts, "COUNT")
			l = "RRULE:" + joinParts(parts)
		}
		out = append(out, l)
	}
	return out
}

// storeError is a failed write to the store: the run cannot go on.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// permanent reports an error that retrying the same write will not cure.
func permanent(err error) bool {
	return errors.Is(err, sdk.ErrInvalidArgument) || errors.Is(err, sdk.ErrPermissionDenied) || errors.Is(err, sdk.ErrUnsupported)
}

func (r *run) exec(ctx context.Context, st *step) error { return r.execStep(ctx, st, 0) }

func (r *run) execStep(ctx context.Context, st *step, depth int) error {
	p := st.w.p
	if r.idx.byID[p.ID] != p {
		return nil
	}
	if !r.flapGuard(p) {
		return nil
	}
	switch {
	case st.response != "":
		return r.execRespond(ctx, st)
	}
	switch st.op {
	case OpCreate:
		return r.execCreate(ctx, st, depth)
	case OpUpdate:
		return r.execUpdate(ctx, st, depth)
	default:
		return r.execDelete(ctx, st, depth)
	}
}

// pruneWrites forgets the pair's writes older than the flap window.
func (r *run) pruneWrites(p *Pair) {
	cutoff := r.now.Add(-r.e.cfg.FlapWindow)
	p.Writes = slices.DeleteFunc(p.Writes, func(t time.Time) bool { return t.Before(cutoff) })
}

// flapGuard quarantines a pair that was written too often lately.
func (r *run) flapGuard(p *Pair) bool {
	r.pruneWrites(p)
	if len(p.Writes) < r.e.cfg.FlapMax {
		return true
	}
	p.QuarantinedUntil = r.now.Add(r.e.cfg.QuarantineFor)
	r.markDirty(p)
	r.e.obs.Quarantined(r.link.Profile, r.link.Name, p.ID)
	r.log.Warn("item keeps changing; quarantined", "pair", p.ID, "writes", len(p.Writes), "window", r.e.cfg.FlapWindow, "until", p.QuarantinedUntil)
	r.note("pair %s was written %d times within %s; quarantined until %s", p.ID, len(p.Writes), r.e.cfg.FlapWindow, p.QuarantinedUntil.UTC().Format("2006-01-02 15:04Z"))
	return false
}

// source returns the item a create or update copies, reading it when the run has
// not listed it.
func (r *run) source(ctx context.Context, st *step) (sdk.Event, error) {
	o := st.w.o(st.from)
	if o.kind == obsListed {
		return *o.ev, nil
	}
	id := st.w.p.ref(st.from).ID
	if id == "" {
		return sdk.Event{}, fmt.Errorf("pair %s has no item on %s: %w", st.w.p.ID, st.from, sdk.ErrNotFound)
	}
	var ev sdk.Event
	err := r.call(ctx, func() error {
		var err error
		ev, err = r.link.endpoint(st.from).Get(ctx, id)
		return err
	})
	if err != nil {
		return sdk.Event{}, err
	}
	if ev.Cancelled {
		return sdk.Event{}, fmt.Errorf("%s item %s is cancelled: %w", st.from, id, sdk.ErrNotFound)
	}
	*o = obs{kind: obsListed, ev: &ev}
	return ev, nil
}

// replan decides a pair again after a write found it changed, and carries out
// the new decision.
func (r *run) replan(ctx context.Context, w *work, depth int) error {
	if depth >= 3 {
		r.incomplete = true
		r.note("pair %s keeps changing during the run; looked at again next run", w.p.ID)
		return nil
	}
	steps := r.decide(w)
	for _, st := range steps {
		r.planned(st)
		if err := r.execStep(ctx, st, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// planned puts st's write in the result's plan.
func (r *run) planned(st *step) {
	st.plan = len(r.res.Plan)
	r.res.Plan = append(r.res.Plan, *st.act)
	st.act = nil
}

// succeeded books a carried-out write.
func (r *run) succeeded(st *step) {
	p := st.w.p
	p.Writes = append(p.Writes, r.now)
	p.Note = ""
	r.done(r.res.Plan[st.plan])
	if st.conflictWinner != "" {
		r.res.Conflicts++
		r.e.obs.Conflict(r.link.Profile, st.conflictWinner)
		r.log.Info("conflict resolved", "pair", p.ID, "winner", st.conflictWinner, "loser", st.conflictWinner.Other())
	}
}

func (r *run) seriesOn(p *Pair, s Side) (string, bool) {
	if p.Kind != sdk.KindException {
		return "", true
	}
	m := r.idx.byID[p.Series]
	if m == nil || m.ref(s).ID == "" {
		return "", false
	}
	return m.ref(s).ID, true
}

func (r *run) execCreate(ctx context.Context, st *step, depth int) error {
	w, p, to, from := st.w, st.w.p, st.to, st.from
	src, err := r.source(ctx, st)
	if errors.Is(err, sdk.ErrNotFound) {
		w.o(from).kind = obsGone
		return r.replan(ctx, w, depth)
	}
	if err != nil {
		return fmt.Errorf("read %s item %s to copy: %w", from, p.ref(from).ID, err)
	}
	ev, intent, ok := r.prepareCreate(st, src)
	if !ok {
		r.note("pair %s: exception waits for its series on %s", p.ID, to)
		return nil
	}
	pending := intent.Pair.Clone()
	if err := r.ensureIntent(ctx, intent); err != nil {
		return err
	}
	var got sdk.Event
	err = r.call(ctx, func() error {
		var err error
		got, err = r.link.endpoint(to).Create(ctx, ev)
		return err
	})
	if err != nil {
		if p.Kind == sdk.KindException && errors.Is(err, sdk.ErrNotFound) {
			// The series vanished on the target meanwhile; its next listing
			// decides what happens to the whole series.
			r.note("pair %s: series of the exception is gone on %s", p.ID, to)
			return r.commit(ctx, Batch{DeleteIntents: []string{p.ID}}, "dropped intent "+p.ID)
		}
		if !permanent(err) {
			// The create may have happened with its answer lost: look before the
			// next attempt, while the process still knows what it sent. A copy not
			// found by its correlation id may still be there untagged (a provider
			// that tags in a second request): the next run looks for it, unless the
			// service refused the create outright (throttled).
			mode := resolveLeave
			if _, throttled := sdk.RetryAfter(err); throttled {
				mode = resolveDrop
			}
			if ok, rerr := r.resolveCreate(ctx, intent, nil, mode); rerr == nil && ok {
				r.succeeded(st)
				return nil
			}
			return fmt.Errorf("create on %s (pair %s): %w", to, p.ID, err)
		}
		r.itemError("create on %s of %s item %s: %v", to, from, src.ID, err)
		// Remember the source as it is, so the create is tried again only when
		// it changes.
		pending.ref(to).Hash = ""
		pending.Note = fmt.Sprintf("create on %s failed: %v", to, err)
		r.idx.update(p, func() { *p = pending })
		return r.commit(ctx, Batch{PutPairs: []Pair{p.Clone()}, DeleteIntents: []string{p.ID}}, "failed create "+p.ID)
	}
	*pending.ref(to) = r.refOf(&pending, got)
	r.idx.update(p, func() { *p = pending })
	*w.o(to) = obs{kind: obsListed, ev: &got}
	r.succeeded(st)
	// The intent stands for the result until the next commit (pending.go).
	r.later(Batch{PutPairs: []Pair{p.Clone()}, DeleteIntents: []string{p.ID}})
	return nil
}

// prepareCreate computes what a create of st sends, copying src, and the intent
// written before it is sent; ok is false while an exception's series has no
// copy on the target.
func (r *run) prepareCreate(st *step, src sdk.Event) (ev sdk.Event, intent Intent, ok bool) {
	p, to, from := st.w.p, st.to, st.from
	ev = r.project(st.w, src, from)
	ev.CorrelationID = p.ID
	series, ok := r.seriesOn(p, to)
	if !ok {
		return sdk.Event{}, Intent{}, false
	}
	ev.SeriesID = series

	pending := p.Clone()
	if pending.Kind == sdk.KindMaster && endless(src) {
		pending.Endless = true
	}
	*pending.ref(from) = r.refOf(&pending, src)
	if from == SuperOffice {
		pending.SOPrivate = src.Privacy == sdk.PrivacyPrivate
	}
	*pending.ref(to) = Ref{Hash: r.hashOf(&pending, ev)}
	pending.Note = ""
	return ev, Intent{ID: p.ID, Side: to, Pair: pending, Shape: shapeOf(ev), Started: r.now}, true
}

func (r *run) execUpdate(ctx context.Context, st *step, depth int) error {
	w, p, to, from := st.w, st.w.p, st.to, st.from
	src, err := r.source(ctx, st)
	if errors.Is(err, sdk.ErrNotFound) {
		w.o(from).kind = obsGone
		return r.replan(ctx, w, depth)
	}
	if err != nil {
		return fmt.Errorf("read %s item %s to copy: %w", from, p.ref(from).ID, err)
	}
	tref := p.ref(to)
	ev := r.project(w, src, from)
	ev.ID, ev.Version, ev.Extras = tref.ID, tref.Version, cloneMap(tref.Extras)
	toObs := w.o(to)
	if toObs.kind == obsListed {
		ev.Version, ev.Extras = toObs.ev.Version, cloneMap(toObs.ev.Extras)
	}
	ev.CorrelationID = p.ID
	series, ok := r.seriesOn(p, to)
	if !ok {
		r.note("pair %s: exception's series has no copy on %s; left alone", p.ID, to)
		return nil
	}
	ev.SeriesID = series
	fromRef := r.refOf(p, src)
	want := r.hashOf(p, ev)
	if want == tref.Hash && (toObs.kind != obsListed || r.hashOf(p, *toObs.ev) == tref.Hash) && !st.carry {
		// The other side already holds this content (a private detail changed
		// behind a placeholder, or a horizon moved): record, write nothing.
		r.idx.update(p, func() { *p.ref(from) = fromRef })
		r.record(w, to)
		r.markDirty(p)
		return nil
	}
	before := tref.Hash
	if toObs.kind == obsListed {
		before = r.hashOf(p, *toObs.ev)
	}
	pending := p.Clone()
	*pending.ref(from) = fromRef
	pending.ref(to).Hash = want
	pending.Writes = append(pending.Writes, r.now)
	if from == SuperOffice {
		pending.SOPrivate = src.Privacy == sdk.PrivacyPrivate
	}
	intent := Intent{ID: p.ID, Op: OpUpdate, Side: to, Pair: pending, Before: before, Started: r.now}
	if err := r.commit(ctx, Batch{PutIntents: []Intent{intent}}, "intent "+p.ID); err != nil {
		return err
	}
	var got sdk.Event
	err = r.call(ctx, func() error {
		var err error
		got, err = r.link.endpoint(to).Update(ctx, ev)
		return err
	})
	if err != nil {
		if errors.Is(err, sdk.ErrPreconditionFailed) || errors.Is(err, sdk.ErrNotFound) || permanent(err) {
			// Certainly not written.
			if cerr := r.commit(ctx, Batch{DeleteIntents: []string{p.ID}}, "dropped intent "+p.ID); cerr != nil {
				return cerr
			}
		} else {
			// Maybe written with the answer lost: settle it now if we can.
			if landed, rerr := r.resolveUpdate(ctx, intent); rerr == nil && landed {
				r.succeeded(st)
				return nil
			}
			return fmt.Errorf("update on %s (pair %s): %w", to, p.ID, err)
		}
	}
	switch {
	case errors.Is(err, sdk.ErrPreconditionFailed):
		cur, gerr := r.readFresh(ctx, to, tref.ID)
		if errors.Is(gerr, sdk.ErrNotFound) {
			w.o(to).kind = obsGone
			return r.replan(ctx, w, depth)
		}
		if gerr != nil {
			return fmt.Errorf("re-read %s item %s after a precondition failure: %w", to, tref.ID, gerr)
		}
		*w.o(to) = obs{kind: obsListed, ev: &cur}
		if r.hashOf(p, cur) == tref.Hash && depth < 2 {
			// Only the version moved: write again with the fresh one.
			return r.execStep(ctx, st, depth+1)
		}
		return r.replan(ctx, w, depth)
	case errors.Is(err, sdk.ErrNotFound):
		w.o(to).kind = obsGone
		return r.replan(ctx, w, depth)
	case err != nil && permanent(err):
		r.itemError("update on %s of item %s from %s: %v", to, tref.ID, from, err)
		r.idx.update(p, func() { *p.ref(from) = fromRef })
		p.Note = fmt.Sprintf("update on %s failed: %v", to, err)
		r.markDirty(p)
		return nil
	case err != nil:
		return fmt.Errorf("update on %s (pair %s): %w", to, p.ID, err)
	}
	r.idx.update(p, func() {
		*p.ref(from) = fromRef
		*p.ref(to) = r.refOf(p, got)
	})
	if from == SuperOffice {
		p.SOPrivate = src.Privacy == sdk.PrivacyPrivate
	}
	*w.o(to) = obs{kind: obsListed, ev: &got}
	r.succeeded(st)
	r.markDirty(p)
	// The intent stands for the result until the next commit (pending.go).
	r.later(Batch{PutPairs: []Pair{p.Clone()}, DeleteIntents: []string{p.ID}})
	return nil
}

func (r *run) readFresh(ctx context.Context, s Side, id string) (sdk.Event, error) {
	var ev sdk.Event
	err := r.call(ctx, func() error {
		var err error
		ev, err = r.link.endpoint(s).Get(ctx, id)
		return err
	})
	if err == nil && ev.Cancelled {
		return ev, fmt.Errorf("%s item %s is cancelled: %w", s, id, sdk.ErrNotFound)
	}
	return ev, err
}

func (r *run) execDelete(ctx context.Context, st *step, depth int) error {
	w, p, to := st.w, st.w.p, st.to
	tref := p.ref(to)
	version := tref.Version
	if o := w.o(to); o.kind == obsListed {
		version = o.ev.Version
	}
	err := r.call(ctx, func() error { return r.link.endpoint(to).Delete(ctx, tref.ID, version) })
	switch {
	case errors.Is(err, sdk.ErrPreconditionFailed):
		cur, gerr := r.readFresh(ctx, to, tref.ID)
		if errors.Is(gerr, sdk.ErrNotFound) {
			break // gone meanwhile: that is what we wanted
		}
		if gerr != nil {
			return fmt.Errorf("re-read %s item %s after a precondition failure: %w", to, tref.ID, gerr)
		}
		*w.o(to) = obs{kind: obsListed, ev: &cur}
		if r.hashOf(p, cur) == tref.Hash && depth < 2 {
			return r.execStep(ctx, st, depth+1)
		}
		return r.replan(ctx, w, depth)
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil && permanent(err):
		r.itemError("delete on %s of item %s: %v", to, tref.ID, err)
		p.Note = fmt.Sprintf("delete on %s failed: %v", to, err)
		r.markDirty(p)
		return nil
	case err != nil:
		return fmt.Errorf("delete on %s (pair %s): %w", to, p.ID, err)
	}
	r.succeeded(st)
	w.o(to).kind = obsGone
	if st.keep {
		r.idx.update(p, func() { *p.ref(to) = Ref{} })
		r.markDirty(p)
		return r.commit(ctx, Batch{PutPairs: []Pair{p.Clone()}}, "delete "+p.ID)
	}
	b := Batch{DeletePairs: []string{p.ID}}
	for _, x := range r.idx.exceptionsOf(p.ID) {
		b.DeletePairs = append(b.DeletePairs, x.ID)
	}
	r.drop(p)
	if err := r.commit(ctx, b, "delete "+p.ID); err != nil {
		return err
	}
	if p.Kind == sdk.KindException {
		return r.followMaster(ctx, p, to, depth)
	}
	return nil
}

// followMaster looks at a series after one of its exceptions was deleted on side
// s: the service records the cancelled occurrence on the master, a change our
// own write made, which is carried to the other side now rather than taken for
// a user's edit later.
func (r *run) followMaster(ctx context.Context, exc *Pair, s Side, depth int) error {
	m := r.idx.byID[exc.Series]
	if m == nil || !m.ref(s).live() || r.quarantined(m) {
		return nil
	}
	cur, err := r.readFresh(ctx, s, m.ref(s).ID)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil // the next listing tells
	}
	if err != nil {
		return fmt.Errorf("re-read series %s on %s: %w", m.ref(s).ID, s, err)
	}
	if r.hashOf(m, cur) == m.ref(s).Hash {
		return nil
	}
	mw := r.work(m)
	*mw.o(s) = obs{kind: obsListed, ev: &cur}
	return r.replan(ctx, mw, depth)
}

// execRespond writes a participant's answer to its copy on st.to, leaving the
// content alone (providers answer an invitation without mailing anyone).
func (r *run) execRespond(ctx context.Context, st *step) error {
	w, p, to := st.w, st.w.p, st.to
	tref := p.ref(to)
	if !tref.live() {
		return nil
	}
	var cur sdk.Event
	if o := w.o(to); o.kind == obsListed {
		cur = *o.ev
	} else {
		ev, err := r.readFresh(ctx, to, tref.ID)
		if errors.Is(err, sdk.ErrNotFound) {
			r.note("pair %s: the copy on %s is gone; its answer was not written", p.ID, to)
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s item %s to answer it: %w", to, tref.ID, err)
		}
		cur = ev
	}
	if cur.Response == st.response {
		return nil
	}
	ev := cur
	ev.Response = st.response
	var got sdk.Event
	err := r.call(ctx, func() error {
		var err error
		got, err = r.link.endpoint(to).Update(ctx, ev)
		return err
	})
	switch {
	case errors.Is(err, sdk.ErrPreconditionFailed), errors.Is(err, sdk.ErrNotFound):
		r.note("pair %s: the copy on %s changed or went while answering; looked at again next run", p.ID, to)
		return nil
	case err != nil && permanent(err):
		r.itemError("answer %s on %s item %s: %v", st.response, to, tref.ID, err)
		p.Note = fmt.Sprintf("answer on %s failed: %v", to, err)
		r.markDirty(p)
		return nil
	case err != nil:
		return fmt.Errorf("answer on %s (pair %s): %w", to, p.ID, err)
	}
	r.idx.update(p, func() { *p.ref(to) = r.refOf(p, got) })
	*w.o(to) = obs{kind: obsListed, ev: &got}
	r.succeeded(st)
	r.markDirty(p)
	return r.commit(ctx, Batch{PutPairs: []Pair{p.Clone()}}, "answer "+p.ID)
}
