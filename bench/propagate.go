package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// benchItem is an item the benchmark wrote, followed through its changes.
type benchItem struct {
	slot    time.Time // start; every item has its own five minutes
	title   string    // the last title written
	deleted bool
	// places are the diaries and calendars it must be in; ids its id in each
	// place where it has been seen.
	places []string
	ids    map[string]string
}

const slotLength = 5 * time.Minute

func (it *benchItem) key() string {
	return occurrence{Start: it.slot, End: it.slot.Add(slotLength)}.key()
}

// slots hands out a five-minute slot per item, at night (01:00–06:00 UTC) from
// the day after base on, away from the seeded working-hours items.
type slots struct {
	mu   sync.Mutex
	base time.Time
	n    int
}

func (s *slots) next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	const perDay = 60
	day := s.base.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1+s.n/perDay)
	t := day.Add(time.Hour + time.Duration(s.n%perDay)*slotLength)
	s.n++
	return t
}

// changer makes random changes through the emulators and times how long each
// takes to show on the link's other side.
type changer struct {
	sides  *sides
	layout layout
	slots  *slots
	round  string
	// probe bounds how often the other side is looked at; timeout how long a
	// change may take to show.
	probe, timeout time.Duration
	// journal, when set, gets a line per change (what, where, how long), to
	// trace a difference the comparison finds back to the change behind it.
	journal io.Writer

	mu    sync.Mutex
	rng   *rand.Rand
	items []*benchItem
	busy  map[*benchItem]bool
	links map[string]bool
	n     int
}

// change is one timed change.
type change struct {
	op      string // create | edit | delete
	from    string // the side written
	latency time.Duration
	seen    bool
}

// note writes a change to the journal.
func (c *changer) note(a account, ch change, it *benchItem, at time.Time) {
	if c.journal == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.journal, "%s %s %s on %s of %s: %q at %s, seen %v after %.3fs\n", at.UTC().Format(time.RFC3339Nano),
		c.round, ch.op, ch.from, a, it.title, it.slot.UTC().Format(time.RFC3339), ch.seen, ch.latency.Seconds())
}

// placesFor are where an item written on side of a must end up: an item born in
// a diary goes to the calendar of every link of that diary; one born in a
// calendar goes to its link's diary only.
func (c *changer) placesFor(a account, side string) []string {
	if side != sideSuperOffice {
		return []string{calPlace(a), soPlace(a.Associate)}
	}
	out := []string{soPlace(a.Associate)}
	for _, b := range c.layout.accounts {
		if b.Associate == a.Associate && !slices.Contains(out, calPlace(b)) {
			out = append(out, calPlace(b))
		}
	}
	return out
}

// pick chooses a free link, a side and an operation, and reserves them.
func (c *changer) pick() (account, string, string, *benchItem, int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var free []account
	for _, a := range c.layout.accounts {
		if !c.links[a.String()] {
			free = append(free, a)
		}
	}
	if len(free) == 0 {
		return account{}, "", "", nil, 0, false
	}
	a := free[c.rng.IntN(len(free))]
	side := sideSuperOffice
	if c.rng.IntN(2) == 0 {
		side = a.Calendar
	}
	// Items this link may change: alive, known on both of its sides, not being
	// changed by another worker.
	var usable []*benchItem
	for _, it := range c.items {
		if !it.deleted && !c.busy[it] && it.ids[soPlace(a.Associate)] != "" && it.ids[calPlace(a)] != "" {
			usable = append(usable, it)
		}
	}
	op := "create"
	if len(usable) > 0 {
		switch r := c.rng.IntN(10); {
		case r < 3:
			op = "edit"
		case r < 5:
			op = "delete"
		}
	}
	var it *benchItem
	if op != "create" {
		it = usable[c.rng.IntN(len(usable))]
		c.busy[it] = true
	}
	c.links[a.String()] = true
	c.n++
	return a, side, op, it, c.n, true
}

func (c *changer) release(a account, it *benchItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.links, a.String())
	if it != nil {
		delete(c.busy, it)
	}
}

// run makes n changes with up to workers at once, each on its own link.
func (c *changer) run(ctx context.Context, n, workers int, progress func(done int)) ([]change, error) {
	if c.busy == nil {
		c.busy, c.links = map[*benchItem]bool{}, map[string]bool{}
	}
	workers = max(1, min(workers, len(c.layout.accounts), n))
	var (
		mu   sync.Mutex
		out  []change
		errs []error
		next int
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || len(errs) > 0 || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				ch, err := c.one(ctx)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					out = append(out, ch)
					if progress != nil {
						progress(len(out))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, ctx.Err()
}

// one makes one change and waits for it on the other side.
func (c *changer) one(ctx context.Context) (change, error) {
	var a account
	var side, op string
	var it *benchItem
	var seq int
	for {
		var ok bool
		if a, side, op, it, seq, ok = c.pick(); ok {
			break
		}
		select { // every link is busy: wait for one
		case <-ctx.Done():
			return change{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer func() { c.release(a, it) }() // it is set below for a create
	other := sideSuperOffice
	if side == sideSuperOffice {
		other = a.Calendar
	}
	here, there := placeOf(a, side), placeOf(a, other)
	ch := change{op: op, from: side}
	switch op {
	case "create":
		slot := c.slots.next()
		title := fmt.Sprintf("%s%s #%d", benchTitlePrefix, c.round, seq)
		id, err := c.sides.create(ctx, a, side, title, slot, slot.Add(slotLength))
		if err != nil {
			return ch, err
		}
		it = &benchItem{slot: slot, title: title, places: c.placesFor(a, side), ids: map[string]string{here: id}}
		c.mu.Lock()
		c.items = append(c.items, it)
		c.busy[it] = true
		c.mu.Unlock()
	case "edit":
		title := fmt.Sprintf("%s%s #%d (edit)", benchTitlePrefix, c.round, seq)
		if err := c.sides.retitle(ctx, a, side, it.ids[here], title); err != nil {
			return ch, err
		}
		c.mu.Lock()
		it.title = title
		c.mu.Unlock()
	case "delete":
		if err := c.sides.remove(ctx, a, side, it.ids[here]); err != nil {
			return ch, err
		}
		c.mu.Lock()
		it.deleted = true
		c.mu.Unlock()
	}
	written := time.Now()
	defer func() { c.note(a, ch, it, written) }()
	// Look at the other side until the change shows there: often at first, then
	// at a twentieth of the time waited so far (the figure's resolution stays
	// within 5 %), at most once a second.
	for {
		occs, err := c.sides.list(ctx, a, other, it.slot, it.slot.Add(slotLength))
		if err != nil {
			return ch, err
		}
		seenID, ok := c.shows(it, occs, op)
		if ok {
			ch.latency, ch.seen = time.Since(written), true
			if seenID != "" {
				c.mu.Lock()
				it.ids[there] = seenID
				c.mu.Unlock()
			}
			return ch, nil
		}
		waited := time.Since(written)
		if waited > c.timeout {
			return ch, nil
		}
		wait := min(max(waited/20, c.probe), time.Second)
		select {
		case <-ctx.Done():
			return ch, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// shows says whether a listing of the item's slot on the other side shows the
// change, and the item's id there.
func (c *changer) shows(it *benchItem, occs []occurrence, op string) (string, bool) {
	c.mu.Lock()
	title := it.title
	c.mu.Unlock()
	for _, o := range occs {
		if !isBenchTitle(o.Title) || o.key() != it.key() {
			continue
		}
		if op == "delete" {
			return "", false
		}
		if o.Title == title {
			return o.ID, true
		}
	}
	return "", op == "delete"
}

// latencies sorts the latencies of the changes that showed.
func latencies(chs []change) (sorted []time.Duration, notSeen int) {
	for _, ch := range chs {
		if ch.seen {
			sorted = append(sorted, ch.latency)
		} else {
			notSeen++
		}
	}
	slices.Sort(sorted)
	return sorted, notSeen
}
