// Package enginetest holds what tests of the sync engine and of its stores share:
// a harness of two in-memory calendars linked by an engine, the randomized model
// test with injected crashes, the crash-at-every-step test and a Store
// conformance suite. daemon/state runs the same tests against its bbolt store.
package enginetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

// T0 is the harness clock's start.
var T0 = time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)

// FakeClock is a settable clock.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a clock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// RecObserver keeps what the engine reports.
type RecObserver struct {
	mu               sync.Mutex
	Runs             map[bool]int
	Items            map[string]int // "to_calendar/create"
	Conflicts        map[engine.Side]int
	QuarantinedPairs []string
}

func NewRecObserver() *RecObserver {
	return &RecObserver{Runs: map[bool]int{}, Items: map[string]int{}, Conflicts: map[engine.Side]int{}}
}

func (o *RecObserver) RunFinished(_, _ string, ok bool, _ time.Duration, _ time.Time) {
	o.mu.Lock()
	o.Runs[ok]++
	o.mu.Unlock()
}

func (o *RecObserver) ItemSynced(_ string, to engine.Side, op engine.Op) {
	o.mu.Lock()
	o.Items[to.Direction()+"/"+string(op)]++
	o.mu.Unlock()
}

func (o *RecObserver) Conflict(_ string, winner engine.Side) {
	o.mu.Lock()
	o.Conflicts[winner]++
	o.mu.Unlock()
}

func (o *RecObserver) Quarantined(_, _, pair string) {
	o.mu.Lock()
	o.QuarantinedPairs = append(o.QuarantinedPairs, pair)
	o.mu.Unlock()
}

// OpCounter counts provider calls by side and method ("calendar.Create").
type OpCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *OpCounter) hook(side engine.Side) func(ctx context.Context, op string, t sdk.Target, phase string) error {
	return func(ctx context.Context, op string, t sdk.Target, phase string) error {
		if phase == "before" {
			c.mu.Lock()
			c.ops[string(side)+"."+op]++
			c.mu.Unlock()
		}
		return nil
	}
}

// Reset forgets the counts.
func (c *OpCounter) Reset() {
	c.mu.Lock()
	c.ops = map[string]int{}
	c.mu.Unlock()
}

// Get returns one count.
func (c *OpCounter) Get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops[k]
}

// All returns a copy of every count.
func (c *OpCounter) All() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.ops))
	for k, v := range c.ops {
		out[k] = v
	}
	return out
}

// Writes returns the number of Create, Update and Delete calls.
func (c *OpCounter) Writes() int {
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

// Harness is one link between two in-memory calendars (plugins/memory), run by
// an engine over a store, with a fake clock. Restart with Rebuild.
type Harness struct {
	T     testing.TB
	Clock *FakeClock
	SOP   *memory.Provider
	CalP  *memory.Provider
	SO    *memory.Calendar
	Cal   *memory.Calendar
	// Store is the persisted state; Cfg.Store may wrap it (fault injection).
	Store  engine.Store
	Obs    *RecObserver
	Ops    *OpCounter
	Cfg    engine.Config
	Eng    *engine.Engine
	Link   engine.Link
	Sleeps []time.Duration
}

// NewHarness returns a harness over a fresh MemStore.
func NewHarness(t testing.TB, pol engine.Policy) *Harness {
	return NewHarnessWith(t, pol, engine.NewMemStore())
}

// NewHarnessWith returns a harness over store.
func NewHarnessWith(t testing.TB, pol engine.Policy, store engine.Store) *Harness {
	h := &Harness{
		T:     t,
		Clock: NewFakeClock(T0),
		SOP:   memory.New(),
		CalP:  memory.New(),
		Store: store,
		Obs:   NewRecObserver(),
		Ops:   &OpCounter{ops: map[string]int{}},
	}
	h.SOP.SetClock(h.Clock.Now)
	h.CalP.SetClock(h.Clock.Now)
	h.SOP.SetHook(h.Ops.hook(engine.SuperOffice))
	h.CalP.SetHook(h.Ops.hook(engine.Calendar))
	soT := sdk.Target{Instance: "so", Account: "JANE"}
	calT := sdk.Target{Instance: "cal", Account: "jane@example.com"}
	h.SO = h.SOP.CalendarOf(soT)
	h.Cal = h.CalP.CalendarOf(calT)
	h.Link = engine.Link{
		Key: "p1/jane", Profile: "p1", Name: "jane",
		SuperOffice: engine.BindStatic(h.SOP, soT),
		Calendar:    engine.BindStatic(h.CalP, calT),
		Policy:      pol,
	}
	h.Cfg = engine.Config{
		Store:    store,
		Observer: h.Obs,
		Now:      h.Clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.Sleeps = append(h.Sleeps, d)
			h.Clock.Advance(d)
			return nil
		},
	}
	h.Rebuild()
	return h
}

// Rebuild makes a fresh engine over the same store (a restart).
func (h *Harness) Rebuild() {
	e, err := engine.New(h.Cfg)
	if err != nil {
		h.T.Fatal(err)
	}
	h.Eng = e
}

// Calendar returns one side's calendar.
func (h *Harness) Calendar(s engine.Side) *memory.Calendar {
	if s == engine.SuperOffice {
		return h.SO
	}
	return h.Cal
}

// Run runs the link once and fails the test on error.
func (h *Harness) Run(opts ...engine.RunOptions) engine.Result {
	h.T.Helper()
	var o engine.RunOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	res, err := h.Eng.Run(context.Background(), h.Link, o)
	if err != nil {
		h.T.Fatalf("run: %v\nplan: %v\nnotes: %v", err, res.Plan, res.Notes)
	}
	return res
}

// Settle runs until a run writes nothing (at most six runs).
func (h *Harness) Settle() {
	h.T.Helper()
	for range 6 {
		if res := h.Run(); len(res.Done) == 0 {
			return
		}
	}
	h.T.Fatalf("link does not settle")
}

// Pairs returns the number of pairs the store holds for the link.
func (h *Harness) Pairs() int {
	h.T.Helper()
	ps, err := h.Store.Pairs(context.Background(), h.Link.Key)
	if err != nil {
		h.T.Fatal(err)
	}
	return len(ps)
}

// Find returns the one item titled title on side s.
func (h *Harness) Find(s engine.Side, title string) sdk.Event {
	h.T.Helper()
	var found []sdk.Event
	for _, e := range h.Calendar(s).Events() {
		if e.Title == title {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		h.T.Fatalf("%s has %d items titled %q, want 1 (all: %s)", s, len(found), title, Titles(h.Calendar(s)))
	}
	return found[0]
}

// Has reports whether side s has an item titled title.
func (h *Harness) Has(s engine.Side, title string) bool {
	for _, e := range h.Calendar(s).Events() {
		if e.Title == title {
			return true
		}
	}
	return false
}

// Edit changes the item titled title on side s as a user would.
func (h *Harness) Edit(s engine.Side, title string, fn func(*sdk.Event)) {
	h.T.Helper()
	ev := h.Find(s, title)
	fn(&ev)
	h.Calendar(s).Put(ev)
}

// Remove deletes the item titled title on side s as a user would.
func (h *Harness) Remove(s engine.Side, title string) {
	h.T.Helper()
	if !h.Calendar(s).Remove(h.Find(s, title).ID) {
		h.T.Fatalf("remove %q on %s failed", title, s)
	}
}

// Retitle is an Edit that sets the title.
func Retitle(t string) func(*sdk.Event) { return func(e *sdk.Event) { e.Title = t } }

// Single is a plain one-hour event.
func Single(title string, start time.Time) sdk.Event {
	return sdk.Event{Kind: sdk.KindSingle, Title: title, Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Oslo", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic}
}

// CountOps counts the writes of a result on one side.
func CountOps(res engine.Result, side engine.Side, op engine.Op) int {
	n := 0
	for _, a := range res.Done {
		if a.Side == side && a.Op == op {
			n++
		}
	}
	return n
}

// ContentOf renders a calendar's content under the field mapping, sorted, for
// comparisons between the sides: one line per item, exceptions under their series.
func ContentOf(c *memory.Calendar) []string {
	evs := c.Events()
	byID := map[string]sdk.Event{}
	for _, e := range evs {
		byID[e.ID] = e
	}
	var out []string
	for _, e := range evs {
		line := engine.Hash(e) + " " + e.Title
		if e.Kind == sdk.KindException {
			line = "exception of [" + engine.Hash(byID[e.SeriesID]) + "] " + line
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

// RequireSame fails unless both sides hold the same content.
func (h *Harness) RequireSame() {
	h.T.Helper()
	a, b := ContentOf(h.SO), ContentOf(h.Cal)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		h.T.Fatalf("sides differ:\nsuperoffice:\n  %s\ncalendar:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
	}
}

// Titles lists a calendar's titles, sorted.
func Titles(c *memory.Calendar) string {
	var out []string
	for _, e := range c.Events() {
		out = append(out, e.Title)
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

// RequireTagged checks that every item is either a copy carrying a correlation
// id or an original whose derived id its copy carries, and that no correlation
// id is on two items of one side.
func (h *Harness) RequireTagged() {
	h.T.Helper()
	for _, s := range engine.Sides() {
		seen := map[string]string{}
		other := map[string]bool{}
		for _, e := range h.Calendar(s.Other()).Events() {
			other[e.CorrelationID] = true
		}
		for _, e := range h.Calendar(s).Events() {
			if e.Kind == sdk.KindException {
				continue
			}
			if e.CorrelationID != "" {
				if prev, dup := seen[e.CorrelationID]; dup {
					h.T.Errorf("%s: %s and %s carry the same correlation id %s", s, prev, e.ID, e.CorrelationID)
				}
				seen[e.CorrelationID] = e.ID
			}
			if e.CorrelationID == "" && !other[engine.CorrelationFor(s, e.ID)] {
				h.T.Errorf("%s item %s (%q) is neither tagged nor the original of a tagged copy", s, e.ID, e.Title)
			}
		}
	}
}
