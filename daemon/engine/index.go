package engine

import (
	"sort"
	"time"
)

// index holds a link's pairs during a run, findable by every key a change can
// carry. Mutations of a pair's keys go through update so the maps stay right.
type index struct {
	byID   map[string]*Pair
	bySide [2]map[string]*Pair
	byExc  map[excKey]*Pair
	series map[string]map[string]*Pair // master pair ID -> its exception pairs by ID
}

// excKey finds an exception by its series' pair and its original start.
type excKey struct {
	series string
	orig   int64
}

func keyOf(series string, orig time.Time) excKey {
	return excKey{series: series, orig: orig.UTC().Unix()}
}

func newIndex(pairs []Pair) *index {
	x := &index{
		byID:   make(map[string]*Pair, len(pairs)),
		bySide: [2]map[string]*Pair{make(map[string]*Pair, len(pairs)), make(map[string]*Pair, len(pairs))},
		byExc:  map[excKey]*Pair{},
		series: map[string]map[string]*Pair{},
	}
	for i := range pairs {
		p := pairs[i]
		x.add(&p)
	}
	return x
}

func (x *index) add(p *Pair) {
	x.byID[p.ID] = p
	for _, s := range sides {
		if id := p.ref(s).ID; id != "" {
			x.bySide[s.index()][id] = p
		}
	}
	if p.Series != "" {
		x.byExc[keyOf(p.Series, p.OriginalStart)] = p
		m := x.series[p.Series]
		if m == nil {
			m = map[string]*Pair{}
			x.series[p.Series] = m
		}
		m[p.ID] = p
	}
}

func (x *index) remove(p *Pair) {
	if x.byID[p.ID] == p {
		delete(x.byID, p.ID)
	}
	for _, s := range sides {
		if id := p.ref(s).ID; id != "" && x.bySide[s.index()][id] == p {
			delete(x.bySide[s.index()], id)
		}
	}
	if p.Series != "" {
		k := keyOf(p.Series, p.OriginalStart)
		if x.byExc[k] == p {
			delete(x.byExc, k)
		}
		if m := x.series[p.Series]; m != nil && m[p.ID] == p {
			delete(m, p.ID)
		}
	}
}

// update changes p's keys with fn and reindexes it.
func (x *index) update(p *Pair, fn func()) {
	x.remove(p)
	fn()
	x.add(p)
}

func (x *index) side(s Side, id string) *Pair {
	if id == "" {
		return nil
	}
	return x.bySide[s.index()][id]
}

// sorted returns every pair in ID order (deterministic runs).
func (x *index) sorted() []*Pair {
	out := make([]*Pair, 0, len(x.byID))
	for _, p := range x.byID {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// exceptionsOf returns the exception pairs of a master pair in ID order.
func (x *index) exceptionsOf(id string) []*Pair {
	m := x.series[id]
	out := make([]*Pair, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
