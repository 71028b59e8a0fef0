package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Fewer commits per write.
//
// Every create and update is recorded in two steps: its intent before the write
// is sent, its result after. As a commit each, that is a write transaction and
// a file sync each, the largest cost of an initial sync in the daemon. Two
// things cut it down without giving up what the intents guarantee (an intent
// is on file before its write is sent; a crash leaves only intents that
// recovery settles by looking at the target):
//
//   - A result need not be on file at once: its intent is, and recovery turns
//     an intent whose write landed into the same record. So results wait in
//     memory (pending) and go with the run's next commit, whatever that is.
//   - The intents of a run of consecutive creates are written together, up to
//     aheadChunk at a time (writeAhead). A create whose intent is on file that
//     way sends without a commit of its own, as long as what it is about to send
//     is still what the intent says (else it writes its intent as before). An
//     intent written ahead whose create is not sent after all is dropped with
//     the next commit; after a crash, recovery finds no copy for it and the
//     create is planned again.
//
// So an initial sync of n items costs about n/aheadChunk commits instead of 2n.

// aheadChunk bounds the creates whose intents are written in one commit. After a
// crash each of them is looked up (or the target read in full, see
// lookupLimit), so more would make recovery dearer than the commits it saves.
const aheadChunk = 32

// pending is what a run has to record that may wait for its next commit. Later
// entries replace earlier ones of the same id.
type pending struct {
	pairs   map[string]*Pair   // nil: delete the pair
	intents map[string]*Intent // nil: delete the intent
}

func (pd *pending) empty() bool { return len(pd.pairs) == 0 && len(pd.intents) == 0 }

// add folds b into what is pending, in the order stores apply a batch. It
// takes b's pairs and intents as they are: the run hands over copies it keeps
// no other hold on.
func (pd *pending) add(b Batch) {
	if pd.pairs == nil {
		pd.pairs, pd.intents = map[string]*Pair{}, map[string]*Intent{}
	}
	for _, id := range b.DeletePairs {
		pd.pairs[id] = nil
	}
	for i := range b.PutPairs {
		pd.pairs[b.PutPairs[i].ID] = &b.PutPairs[i]
	}
	for _, id := range b.DeleteIntents {
		pd.intents[id] = nil
	}
	for i := range b.PutIntents {
		pd.intents[b.PutIntents[i].ID] = &b.PutIntents[i]
	}
}

// take returns what is pending as one batch, in id order, and forgets it.
func (pd *pending) take() Batch {
	var b Batch
	b.PutPairs = make([]Pair, 0, len(pd.pairs))
	b.PutIntents = make([]Intent, 0, len(pd.intents))
	for _, id := range slices.Sorted(maps.Keys(pd.pairs)) {
		if p := pd.pairs[id]; p != nil {
			b.PutPairs = append(b.PutPairs, *p)
		} else {
			b.DeletePairs = append(b.DeletePairs, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(pd.intents)) {
		if in := pd.intents[id]; in != nil {
			b.PutIntents = append(b.PutIntents, *in)
		} else {
			b.DeleteIntents = append(b.DeleteIntents, id)
		}
	}
	pd.pairs, pd.intents = nil, nil
	return b
}

// commit writes b, and with it everything pending, in one transaction.
func (r *run) commit(ctx context.Context, b Batch, what string) error {
	r.forgetAhead(b)
	r.pend.add(b)
	all := r.pend.take()
	all.Cursors = b.Cursors
	if all.Empty() {
		return nil
	}
	if err := r.store().Commit(ctx, r.link.Key, all); err != nil {
		return &storeError{fmt.Errorf("record %s: %w", what, err)}
	}
	return nil
}

// later keeps b for the next commit: b records writes whose intents are on file.
func (r *run) later(b Batch) {
	r.forgetAhead(b)
	r.pend.add(b)
}

// forgetAhead: an intent b puts or deletes is no longer one written ahead.
func (r *run) forgetAhead(b Batch) {
	if len(r.ahead) == 0 {
		return
	}
	for _, in := range b.PutIntents {
		delete(r.ahead, in.ID)
	}
	for _, id := range b.DeleteIntents {
		delete(r.ahead, id)
	}
}

// writeAhead writes the intents of the creates at the head of steps (up to
// aheadChunk, of one class, each copying an item the run listed) in one commit.
func (r *run) writeAhead(ctx context.Context, steps []*step) error {
	first := steps[0]
	if !first.aheadable() || r.ahead[first.w.p.ID] != nil {
		return nil
	}
	ins := make([]Intent, 0, min(aheadChunk, len(steps)))
	seen := make(map[string]bool, min(aheadChunk, len(steps)))
	for _, st := range steps {
		if len(ins) == aheadChunk || !st.aheadable() || st.class() != first.class() {
			break
		}
		p := st.w.p
		if seen[p.ID] || r.ahead[p.ID] != nil {
			break
		}
		seen[p.ID] = true
		if r.idx.byID[p.ID] != p || r.quarantined(p) {
			continue
		}
		r.pruneWrites(p)
		if len(p.Writes) >= r.e.cfg.FlapMax {
			continue // the flap guard stops it
		}
		o := st.w.o(st.from)
		if o.kind != obsListed {
			break // read when it runs, and its intent written then
		}
		if _, in, ok := r.prepareCreate(st, *o.ev); ok {
			ins = append(ins, in)
		}
	}
	if len(ins) < 2 {
		return nil
	}
	if err := r.commit(ctx, Batch{PutIntents: ins}, fmt.Sprintf("%d intents", len(ins))); err != nil {
		return err
	}
	if r.ahead == nil {
		r.ahead = map[string]*Intent{}
	}
	for i := range ins {
		r.ahead[ins[i].ID] = &ins[i]
	}
	return nil
}

// aheadable reports a create whose intent may be written ahead.
func (st *step) aheadable() bool { return st.op == OpCreate && st.response == "" }

// ensureIntent makes in the pair's intent on file before its write is sent:
// written ahead as it is, or written now.
func (r *run) ensureIntent(ctx context.Context, in Intent) error {
	if a := r.ahead[in.ID]; a != nil && sameIntent(a, &in) {
		delete(r.ahead, in.ID)
		return nil
	}
	return r.commit(ctx, Batch{PutIntents: []Intent{in}}, "intent "+in.ID)
}

// settleAhead drops the intent written ahead for a step that ended without
// sending its create.
func (r *run) settleAhead(st *step) {
	id := st.w.p.ID
	if r.ahead[id] == nil {
		return
	}
	delete(r.ahead, id)
	r.pend.add(Batch{DeleteIntents: []string{id}})
}

// flush records what is pending, and drops the intents written ahead whose
// creates were not sent, when a run ends early. The run's context may be
// over (a shutdown): this is a short local write that saves the next start
// from looking every one of them up.
func (r *run) flush(ctx context.Context) error {
	for id := range r.ahead {
		r.pend.add(Batch{DeleteIntents: []string{id}})
	}
	clear(r.ahead)
	if r.pend.empty() {
		return nil
	}
	return r.commit(context.WithoutCancel(ctx), Batch{}, "pending records")
}

// sameIntent reports whether two intents record the same thing.
func sameIntent(a, b *Intent) bool {
	return a.ID == b.ID && a.Op == b.Op && a.Side == b.Side && a.Before == b.Before && a.Shape == b.Shape &&
		a.Started.Equal(b.Started) && samePair(&a.Pair, &b.Pair)
}

// samePair reports whether two pairs hold the same values.
func samePair(a, b *Pair) bool {
	return a.ID == b.ID && sameRef(&a.SO, &b.SO) && sameRef(&a.Cal, &b.Cal) && a.Kind == b.Kind && a.Series == b.Series &&
		a.OriginalStart.Equal(b.OriginalStart) && a.Origin == b.Origin && a.Owner == b.Owner && a.SOPrivate == b.SOPrivate &&
		a.Endless == b.Endless && a.Frozen == b.Frozen && a.Note == b.Note && slices.EqualFunc(a.Writes, b.Writes, time.Time.Equal) &&
		a.QuarantinedUntil.Equal(b.QuarantinedUntil) && a.Role == b.Role && a.Meeting == b.Meeting && a.WaitSince.Equal(b.WaitSince)
}

func sameRef(a, b *Ref) bool {
	return a.ID == b.ID && a.Version == b.Version && a.Hash == b.Hash && a.Start.Equal(b.Start) && a.End.Equal(b.End) &&
		a.Series == b.Series && maps.Equal(a.Extras, b.Extras) && a.Deleted == b.Deleted && a.Meeting == b.Meeting && a.Response == b.Response
}
