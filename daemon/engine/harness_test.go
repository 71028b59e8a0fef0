package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

var t0 = time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recObserver keeps what the engine reports.
type recObserver struct {
	mu          sync.Mutex
	runs        map[bool]int
	items       map[string]int // "to_calendar/create"
	conflicts   map[Side]int
	quarantined []string
}

func newRecObserver() *recObserver {
	return &recObserver{runs: map[bool]int{}, items: map[string]int{}, conflicts: map[Side]int{}}
}

func (o *recObserver) RunFinished(_, _ string, ok bool, _ time.Duration, _ time.Time) {
	o.mu.Lock()
	o.runs[ok]++
	o.mu.Unlock()
}

func (o *recObserver) ItemSynced(_ string, to Side, op Op) {
	o.mu.Lock()
	o.items[to.Direction()+"/"+string(op)]++
	o.mu.Unlock()
}

func (o *recObserver) Conflict(_ string, winner Side) {
	o.mu.Lock()
	o.conflicts[winner]++
	o.mu.Unlock()
}

func (o *recObserver) Quarantined(_, _, pair string) {
	o.mu.Lock()
	o.quarantined = append(o.quarantined, pair)
	o.mu.Unlock()
}

// opCounter counts provider calls by side and method.
type opCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *opCounter) hook(side Side) func(ctx context.Context, op string, t sdk.Target, phase string) error {
	return func(ctx context.Context, op string, t sdk.Target, phase string) error {
		if phase == "before" {
			c.mu.Lock()
			c.ops[string(side)+"."+op]++
			c.mu.Unlock()
		}
		return nil
	}
}

func (c *opCounter) reset() {
	c.mu.Lock()
	c.ops = map[string]int{}
	c.mu.Unlock()
}

func (c *opCounter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops[k]
}

func (c *opCounter) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.ops {
		if strings.HasSuffix(k, ".Create") || strings.HasSuffix(k, ".Update") || strings.HasSuffix(k, ".Delete") {
			n += v
		}
	}
	return n
}

type harness struct {
	t      testing.TB
	clock  *fakeClock
	soP    *memory.Provider
	calP   *memory.Provider
	so     *memory.Calendar
	cal    *memory.Calendar
	store  *MemStore
	obs    *recObserver
	ops    *opCounter
	cfg    Config
	eng    *Engine
	link   Link
	sleeps []time.Duration
}

func newHarness(t testing.TB, pol Policy) *harness {
	h := &harness{
		t:     t,
		clock: &fakeClock{now: t0},
		soP:   memory.New(),
		calP:  memory.New(),
		store: NewMemStore(),
		obs:   newRecObserver(),
		ops:   &opCounter{ops: map[string]int{}},
	}
	h.soP.SetClock(h.clock.Now)
	h.calP.SetClock(h.clock.Now)
	h.soP.SetHook(h.ops.hook(SuperOffice))
	h.calP.SetHook(h.ops.hook(Calendar))
	soT := sdk.Target{Instance: "so", Account: "JANE"}
	calT := sdk.Target{Instance: "cal", Account: "jane@example.com"}
	h.so = h.soP.CalendarOf(soT)
	h.cal = h.calP.CalendarOf(calT)
	h.link = Link{
		Key: "p1/jane", Profile: "p1", Name: "jane",
		SuperOffice: BindStatic(h.soP, soT),
		Calendar:    BindStatic(h.calP, calT),
		Policy:      pol,
	}
	h.cfg = Config{
		Store:    h.store,
		Observer: h.obs,
		Now:      h.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.sleeps = append(h.sleeps, d)
			h.clock.Advance(d)
			return nil
		},
	}
	h.rebuild()
	return h
}

// rebuild makes a fresh engine over the same store (a restart).
func (h *harness) rebuild() {
	e, err := New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = e
}

func (h *harness) calendar(s Side) *memory.Calendar {
	if s == SuperOffice {
		return h.so
	}
	return h.cal
}

func (h *harness) run(opts ...RunOptions) Result {
	h.t.Helper()
	var o RunOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	res, err := h.eng.Run(context.Background(), h.link, o)
	if err != nil {
		h.t.Fatalf("run: %v\nplan: %v\nnotes: %v", err, res.Plan, res.Notes)
	}
	return res
}

// settle runs until a run writes nothing (at most n runs).
func (h *harness) settle() {
	h.t.Helper()
	for i := 0; i < 6; i++ {
		res := h.run()
		if len(res.Done) == 0 {
			return
		}
	}
	h.t.Fatalf("link does not settle")
}

func single(title string, start time.Time) sdk.Event {
	return sdk.Event{Kind: sdk.KindSingle, Title: title, Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Oslo", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic}
}

// contentOf renders a calendar's content under the field mapping, sorted, for
// comparisons between the sides: one line per item, exceptions under their series.
func contentOf(c *memory.Calendar) []string {
	evs := c.Events()
	byID := map[string]sdk.Event{}
	for _, e := range evs {
		byID[e.ID] = e
	}
	var out []string
	for _, e := range evs {
		line := Hash(e) + " " + e.Title
		if e.Kind == sdk.KindException {
			line = "exception of [" + Hash(byID[e.SeriesID]) + "] " + line
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func (h *harness) requireSame() {
	h.t.Helper()
	a, b := contentOf(h.so), contentOf(h.cal)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		h.t.Fatalf("sides differ:\nsuperoffice:\n  %s\ncalendar:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
	}
}

func titles(c *memory.Calendar) string {
	var out []string
	for _, e := range c.Events() {
		out = append(out, e.Title)
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

// requireTagged checks that every item is either a copy carrying a correlation id
// or an original whose derived id its copy carries, and that no correlation id is
// on two items of one side.
func (h *harness) requireTagged() {
	h.t.Helper()
	for _, s := range sides {
		seen := map[string]string{}
		other := map[string]bool{}
		for _, e := range h.calendar(s.Other()).Events() {
			other[e.CorrelationID] = true
		}
		for _, e := range h.calendar(s).Events() {
			if e.Kind == sdk.KindException {
				continue
			}
			if e.CorrelationID != "" {
				if prev, dup := seen[e.CorrelationID]; dup {
					h.t.Errorf("%s: %s and %s carry the same correlation id %s", s, prev, e.ID, e.CorrelationID)
				}
				seen[e.CorrelationID] = e.ID
			}
			if e.CorrelationID == "" && !other[CorrelationFor(s, e.ID)] {
				h.t.Errorf("%s item %s (%q) is neither tagged nor the original of a tagged copy", s, e.ID, e.Title)
			}
		}
	}
}
