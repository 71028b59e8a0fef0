package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// MemStore is a Store in memory, for tests and the embedded demo. It copies values
// in and out and applies each Batch atomically, as the bbolt store does. Fail, when
// set, is called at the start of every method with the method's name; an error it
// returns is returned as is (fault injection).
type MemStore struct {
	mu    sync.Mutex
	links map[string]*memLink
	Fail  func(op string) error
	// MemMeetings makes MemStore the engine's MeetingStore too.
	MemMeetings
}

type memLink struct {
	pairs   map[string]Pair
	intents map[string]Intent
	cursors map[Side]CursorState
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{links: map[string]*memLink{}} }

func (m *MemStore) link(name string) *memLink {
	l, ok := m.links[name]
	if !ok {
		l = &memLink{pairs: map[string]Pair{}, intents: map[string]Intent{}, cursors: map[Side]CursorState{}}
		m.links[name] = l
	}
	return l
}

func (m *MemStore) fail(op string) error {
	if m.Fail != nil {
		return m.Fail(op)
	}
	return nil
}

// Pairs implements Store; the result is sorted by ID.
func (m *MemStore) Pairs(ctx context.Context, link string) ([]Pair, error) {
	if err := m.fail("Pairs"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.link(link)
	out := make([]Pair, 0, len(l.pairs))
	for _, p := range l.pairs {
		out = append(out, p.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// PairBySide implements Store.
func (m *MemStore) PairBySide(ctx context.Context, link string, s Side, id string) (Pair, bool, error) {
	if err := m.fail("PairBySide"); err != nil {
		return Pair{}, false, err
	}
	if id == "" {
		return Pair{}, false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.link(link).pairs {
		if p.ref(s).ID == id {
			return p.Clone(), true, nil
		}
	}
	return Pair{}, false, nil
}

// PairByCorrelation implements Store.
func (m *MemStore) PairByCorrelation(ctx context.Context, link, corr string) (Pair, bool, error) {
	if err := m.fail("PairByCorrelation"); err != nil {
		return Pair{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.link(link).pairs[corr]
	return p.Clone(), ok, nil
}

// Intents implements Store; the result is sorted by ID.
func (m *MemStore) Intents(ctx context.Context, link string) ([]Intent, error) {
	if err := m.fail("Intents"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.link(link)
	out := make([]Intent, 0, len(l.intents))
	for _, in := range l.intents {
		out = append(out, in.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Cursor implements Store.
func (m *MemStore) Cursor(ctx context.Context, link string, s Side) (CursorState, bool, error) {
	if err := m.fail("Cursor"); err != nil {
		return CursorState{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.link(link).cursors[s]
	return c, ok, nil
}

// Commit implements Store.
func (m *MemStore) Commit(ctx context.Context, link string, b Batch) error {
	if err := m.fail("Commit"); err != nil {
		return err
	}
	for _, p := range b.PutPairs {
		if p.ID == "" {
			return fmt.Errorf("commit link %s: pair without id", link)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.link(link)
	for _, id := range b.DeletePairs {
		delete(l.pairs, id)
	}
	for _, p := range b.PutPairs {
		l.pairs[p.ID] = p.Clone()
	}
	for _, id := range b.DeleteIntents {
		delete(l.intents, id)
	}
	for _, in := range b.PutIntents {
		l.intents[in.ID] = in.Clone()
	}
	for s, c := range b.Cursors {
		l.cursors[s] = c
	}
	return nil
}

// DropLink implements Store.
func (m *MemStore) DropLink(ctx context.Context, link string) error {
	if err := m.fail("DropLink"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.links, link)
	return nil
}

// Len returns the number of pairs of link (for tests and status).
func (m *MemStore) Len(link string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.link(link).pairs)
}
