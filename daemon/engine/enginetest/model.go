package enginetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teambition/rrule-go"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/sdk"
)

// The randomized model test: two in-memory calendars, a random mix of user
// creates, edits, deletes, recurring exceptions, cancelled occurrences, window
// changes and expired cursors on both sides between runs, with injected failures
// (a provider call erroring before or after it took effect, the store failing
// before or after a commit) and restarts that keep only the persisted store.
//
// Checked after every successful run: items inside the window are equal on both
// sides. Checked at the end (wide window, no faults): the link settles, both
// sides hold the same items under the mapping, no correlation id is on two items
// of one side, every deleted item stays deleted unless the other side edited it
// (and the policy let the edit win), and no edit is lost except to the policy.
//
// SYNC_SOAK_SEEDS=N runs N seeds (default 300); SYNC_SEED=S replays one seed.

var errCrash = errors.New("injected crash")

// faults decides, per provider call and store commit, whether to fail.
type faults struct {
	mu      sync.Mutex
	step    int
	crashAt int    // step number to fail at; 0 = never
	phase   string // "before" or "after"
	dead    bool   // crashed: every later call fails (the process is gone)
	restart bool   // the failure is a crash (restart), not a plain error
	fired   int
}

func (f *faults) arm(at int, phase string, restart bool) {
	f.mu.Lock()
	f.step, f.crashAt, f.phase, f.dead, f.restart = 0, at, phase, false, restart
	f.mu.Unlock()
}

func (f *faults) disarm() {
	f.mu.Lock()
	f.crashAt, f.dead = 0, false
	f.mu.Unlock()
}

// check is called around every faultable step. A failing store is taken for a
// dying process (restart): without its store the daemon cannot go on, and an
// intent left behind is settled by Recover at start.
func (f *faults) check(phase string) error { return f.checkStep(phase, false) }

func (f *faults) checkStep(phase string, store bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return errCrash
	}
	if phase == "before" {
		f.step++
	}
	if f.crashAt > 0 && f.step == f.crashAt && phase == f.phase {
		f.fired++
		if store {
			f.restart = true
		}
		if f.restart {
			f.dead = true
		}
		f.crashAt = 0
		return errCrash
	}
	return nil
}

func (f *faults) steps() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.step
}

// crashStore applies faults around a store's commits.
type crashStore struct {
	engine.Store
	f *faults
}

func (c crashStore) Commit(ctx context.Context, link string, b engine.Batch) error {
	if err := c.f.checkStep("before", true); err != nil {
		return err
	}
	if err := c.Store.Commit(ctx, link, b); err != nil {
		return err
	}
	return c.f.checkStep("after", true)
}

// token tracks one user-made single event or series across both sides.
type token struct {
	name   string
	master bool
	// Since the token was last seen equal on both sides:
	deleted [2]bool
	edited  [2]bool
	last    [2]string    // title of the side's last edit
	lastAt  [2]time.Time // when
	synced  string       // title when last seen equal
}

type model struct {
	t             testing.TB
	seed          uint64
	rng           *rand.Rand
	h             *Harness
	f             *faults
	tokens        []*token
	nextID        int
	rev           int
	log           []string
	crashes, runs int
}

func (m *model) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func (m *model) fail(format string, args ...any) error {
	tail := m.log
	if len(tail) > 60 && os.Getenv("SYNC_DEBUG") == "" {
		tail = tail[len(tail)-60:]
	}
	return fmt.Errorf("seed %d (replay with SYNC_SEED=%d): %s\nlast steps:\n  %s",
		m.seed, m.seed, fmt.Sprintf(format, args...), strings.Join(tail, "\n  "))
}

// items returns a token's items on a side (master or single; not exceptions).
func (m *model) items(s engine.Side, tk *token) []sdk.Event {
	var out []sdk.Event
	for _, e := range m.h.Calendar(s).Events() {
		if e.Kind != sdk.KindException && strings.HasPrefix(e.Title, tk.name+" ") {
			out = append(out, e)
		}
	}
	return out
}

func (m *model) tick() { m.h.Clock.Advance(time.Duration(1+m.rng.IntN(5)) * time.Minute) }

func (m *model) randomTime() time.Time {
	day := 24 * time.Hour
	return m.h.Clock.Now().Add(time.Duration(m.rng.IntN(200)-60) * day).Truncate(time.Hour)
}

var rules = []string{"RRULE:FREQ=DAILY;COUNT=5", "RRULE:FREQ=WEEKLY", "RRULE:FREQ=DAILY;INTERVAL=2;COUNT=10", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE"}

func (m *model) create(s engine.Side) {
	m.nextID++
	m.rev++
	tk := &token{name: "T" + strconv.Itoa(m.nextID)}
	start := m.randomTime()
	ev := Single(fmt.Sprintf("%s r%d", tk.name, m.rev), start)
	if m.rng.IntN(3) == 0 {
		tk.master = true
		ev.Kind = sdk.KindMaster
		ev.Recurrence = []string{rules[m.rng.IntN(len(rules))]}
	}
	if m.rng.IntN(5) == 0 {
		ev.AllDay = true
		d := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
		ev.Start, ev.End, ev.TimeZone = d, d.Add(24*time.Hour), ""
	}
	got := m.h.Calendar(s).Put(ev)
	i := idx(s)
	tk.edited[i], tk.last[i], tk.lastAt[i] = true, got.Title, m.h.Clock.Now()
	m.tokens = append(m.tokens, tk)
	m.logf("user: create %s on %s (%s %s)", got.Title, s, got.Kind, got.Start.Format(time.RFC3339))
}

func (m *model) pick(s engine.Side) (*token, sdk.Event, bool) {
	var cands []*token
	for _, tk := range m.tokens {
		if len(m.items(s, tk)) == 1 {
			cands = append(cands, tk)
		}
	}
	if len(cands) == 0 {
		return nil, sdk.Event{}, false
	}
	tk := cands[m.rng.IntN(len(cands))]
	return tk, m.items(s, tk)[0], true
}

func (m *model) edited(s engine.Side, tk *token, title string) {
	i := idx(s)
	tk.edited[i], tk.last[i], tk.lastAt[i] = true, title, m.h.Clock.Now()
}

func (m *model) edit(s engine.Side) {
	tk, ev, ok := m.pick(s)
	if !ok {
		return
	}
	m.rev++
	ev.Title = fmt.Sprintf("%s r%d", tk.name, m.rev)
	switch m.rng.IntN(4) {
	case 0:
		shift := time.Duration(m.rng.IntN(48)-24) * time.Hour
		if ev.AllDay {
			shift = shift.Truncate(24 * time.Hour)
		}
		ev.Start, ev.End = ev.Start.Add(shift), ev.End.Add(shift)
	case 1:
		ev.Description = fmt.Sprintf("note %d", m.rev)
	case 2:
		ev.Location = fmt.Sprintf("room %d", m.rng.IntN(5))
	}
	got := m.h.Calendar(s).Put(ev)
	m.edited(s, tk, got.Title)
	m.logf("user: edit %s on %s -> %s (%s)", tk.name, s, got.Title, got.Start.Format(time.RFC3339))
}

func (m *model) del(s engine.Side) {
	tk, ev, ok := m.pick(s)
	if !ok {
		return
	}
	m.h.Calendar(s).Remove(ev.ID)
	tk.deleted[idx(s)] = true
	m.logf("user: delete %s (%s) on %s", tk.name, ev.ID, s)
}

// occurrence returns the start of occurrence k of a series (first few only).
func occurrence(ev sdk.Event, k int) (time.Time, bool) {
	loc := time.UTC
	if !ev.AllDay && ev.TimeZone != "" {
		if l, err := time.LoadLocation(ev.TimeZone); err == nil {
			loc = l
		}
	}
	set, err := rrule.StrSliceToRRuleSetInLoc(ev.Recurrence, loc)
	if err != nil {
		return time.Time{}, false
	}
	set.DTStart(ev.Start.In(loc))
	next := set.Iterator()
	for i := 0; i <= k; i++ {
		t, ok := next()
		if !ok {
			return time.Time{}, false
		}
		if i == k {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// idx numbers the sides for the model's arrays.
func idx(s engine.Side) int {
	if s == engine.SuperOffice {
		return 0
	}
	return 1
}

func (m *model) exception(s engine.Side) {
	var masters []*token
	for _, tk := range m.tokens {
		if tk.master && len(m.items(s, tk)) == 1 {
			masters = append(masters, tk)
		}
	}
	if len(masters) == 0 {
		return
	}
	tk := masters[m.rng.IntN(len(masters))]
	master := m.items(s, tk)[0]
	orig, ok := occurrence(master, m.rng.IntN(4))
	if !ok {
		return
	}
	cal := m.h.Calendar(s)
	if m.rng.IntN(3) == 0 {
		// Cancel the occurrence: remove its exception if it has one, else add an
		// EXDATE to the master.
		for _, e := range cal.Events() {
			if e.Kind == sdk.KindException && e.SeriesID == master.ID && e.OriginalStart.Equal(orig) {
				cal.Remove(e.ID)
				got, _ := cal.Event(master.ID)
				m.edited(s, tk, got.Title)
				m.logf("user: cancel exception %s of %s on %s", e.ID, tk.name, s)
				return
			}
		}
		master.Recurrence = append(master.Recurrence, exdate(orig, master.AllDay))
		got := cal.Put(master)
		m.edited(s, tk, got.Title)
		m.logf("user: cancel occurrence %s of %s on %s", orig.Format(time.RFC3339), tk.name, s)
		return
	}
	m.rev++
	dur := master.End.Sub(master.Start)
	shift := time.Duration(m.rng.IntN(3)) * time.Hour
	if master.AllDay {
		shift = 0
	}
	ex := sdk.Event{
		Kind: sdk.KindException, SeriesID: master.ID, OriginalStart: orig,
		Title: fmt.Sprintf("X%d", m.rev), Start: orig.Add(shift), End: orig.Add(shift + dur),
		AllDay: master.AllDay, TimeZone: master.TimeZone, ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic,
	}
	got := cal.Put(ex)
	m.logf("user: exception %s of %s at %s on %s", got.Title, tk.name, orig.Format(time.RFC3339), s)
}

func exdate(t time.Time, allDay bool) string {
	if allDay {
		return "EXDATE;VALUE=DATE:" + t.UTC().Format("20060102")
	}
	return "EXDATE:" + t.UTC().Format("20060102T150405Z")
}

func (m *model) windowChange() {
	day := 24 * time.Hour
	pasts := []time.Duration{10 * day, 30 * day, 60 * day}
	futures := []time.Duration{30 * day, 90 * day, 365 * day}
	m.h.Link.Policy.Past = pasts[m.rng.IntN(len(pasts))]
	m.h.Link.Policy.Future = futures[m.rng.IntN(len(futures))]
	m.logf("config: window past %s future %s", m.h.Link.Policy.Past, m.h.Link.Policy.Future)
}

// userRound makes a few random changes.
func (m *model) userRound() {
	for range 1 + m.rng.IntN(5) {
		s := engine.Sides()[m.rng.IntN(2)]
		m.tick()
		switch n := m.rng.IntN(100); {
		case n < 30:
			m.create(s)
		case n < 55:
			m.edit(s)
		case n < 70:
			m.del(s)
		case n < 88:
			m.exception(s)
		case n < 94:
			m.windowChange()
		default:
			m.h.SOP.ExpireCursors()
			m.h.CalP.ExpireCursors()
			m.logf("service: cursors expired")
		}
	}
}

// syncRound runs the link once, maybe with a failure injected.
func (m *model) syncRound() (ok bool, err error) {
	m.tick()
	m.runs++
	if m.rng.IntN(3) == 0 {
		// Aim somewhere in the run; a step past its end simply does not fire.
		phase := []string{"before", "after"}[m.rng.IntN(2)]
		restart := m.rng.IntN(4) != 0
		m.f.arm(1+m.rng.IntN(12), phase, restart)
		m.logf("fault: step %d %s (restart %v)", m.f.crashAt, phase, restart)
	}
	fired := m.f.fired
	res, runErr := m.h.Eng.Run(context.Background(), m.h.Link, engine.RunOptions{})
	crashed := m.f.fired > fired
	m.f.disarm()
	for _, a := range res.Done {
		m.logf("sync: %s", a)
	}
	if os.Getenv("SYNC_DEBUG") != "" {
		for _, n := range res.Notes {
			m.logf("note: %s", n)
		}
	}
	if crashed {
		m.crashes++
		if m.f.restart {
			// A restart keeps nothing but the store, and settles pending writes
			// before anything else happens.
			m.h.Rebuild()
			if err := m.h.Eng.Recover(context.Background(), m.h.Link); err != nil {
				return false, m.fail("recover after a crash: %v", err)
			}
			m.logf("restart: recovered")
		}
	}
	switch {
	case runErr == nil:
		m.logf("sync: ok (%d writes)", len(res.Done))
		return true, nil
	case crashed || errors.Is(runErr, errCrash):
		m.logf("sync: failed: %v", runErr)
		return false, nil
	default:
		return false, m.fail("run failed without an injected fault: %v", runErr)
	}
}

// checkSynced verifies that items well inside the window are equal on both
// sides after a successful run, and starts a new period for tokens whose sides
// agree (after any run: what a failed run wrote is written).
func (m *model) checkSynced(ok bool) error {
	w := m.h.Link.Policy.Window(m.h.Clock.Now())
	margin := 3 * 24 * time.Hour
	inner := sdk.Window{Start: w.Start.Add(margin), End: w.End.Add(-margin)}
	for _, tk := range m.tokens {
		so, cal := m.items(engine.SuperOffice, tk), m.items(engine.Calendar, tk)
		all := append(slices.Clone(so), cal...)
		inside := len(all) > 0
		for _, e := range all {
			if !engine.InWindow(e, inner) || !engine.InWindow(e, w) {
				inside = false
			}
		}
		equal := len(so) == 1 && len(cal) == 1 && engine.Hash(so[0]) == engine.Hash(cal[0])
		if ok && inside && !equal {
			if len(so) != 1 || len(cal) != 1 {
				return m.fail("%s: %d items on superoffice, %d on calendar inside the window after a successful run", tk.name, len(so), len(cal))
			}
			return m.fail("%s differs inside the window after a successful run:\n  so  %+v\n  cal %+v", tk.name, so[0], cal[0])
		}
		if os.Getenv("SYNC_DEBUG") != "" && tk.name == os.Getenv("SYNC_DEBUG") {
			m.logf("debug %s: equal %v recorded %v", tk.name, equal, equal && m.recorded(so[0], cal[0]))
		}
		if equal && m.recorded(so[0], cal[0]) {
			// Both sides agree, and the link's state knows it: earlier edits and
			// deletes are settled.
			*tk = token{name: tk.name, master: tk.master, synced: so[0].Title}
		}
	}
	return nil
}

// recorded reports whether the store pairs so and cal with their current content.
func (m *model) recorded(so, cal sdk.Event) bool {
	p, ok, err := m.h.Store.PairBySide(context.Background(), m.h.Link.Key, engine.SuperOffice, so.ID)
	if err != nil || !ok || p.Cal.ID != cal.ID {
		return false
	}
	// Endless series in the model have no UNTIL or COUNT, so the plain hash is
	// what the engine recorded for them too.
	return p.SO.Hash == engine.Hash(so) && p.Cal.Hash == engine.Hash(cal)
}

// checkFinal verifies the quiescent end state.
func (m *model) checkFinal() error {
	a, b := ContentOf(m.h.SO), ContentOf(m.h.Cal)
	if !slices.Equal(a, b) {
		return m.fail("sides differ at the end:\nsuperoffice:\n  %s\ncalendar:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
	}
	for _, s := range engine.Sides() {
		seen := map[string]string{}
		for _, e := range m.h.Calendar(s).Events() {
			if e.CorrelationID == "" || e.Kind == sdk.KindException {
				continue
			}
			if prev, dup := seen[e.CorrelationID]; dup {
				return m.fail("%s: %s and %s carry correlation id %s (a duplicate)", s, prev, e.ID, e.CorrelationID)
			}
			seen[e.CorrelationID] = e.ID
		}
	}
	pol := m.h.Link.Policy.Conflict
	for _, tk := range m.tokens {
		so, cal := m.items(engine.SuperOffice, tk), m.items(engine.Calendar, tk)
		if len(so) > 1 || len(cal) > 1 {
			return m.fail("%s: duplicated (%d on superoffice, %d on calendar)", tk.name, len(so), len(cal))
		}
		present := len(so) == 1
		want := true
		var editWins engine.Side
		for _, x := range engine.Sides() {
			y := x.Other()
			if !tk.deleted[idx(x)] {
				continue
			}
			if tk.deleted[idx(y)] || !tk.edited[idx(y)] {
				want = false
				continue
			}
			// Deleted on x, edited on y: the edit wins unless the policy names x.
			if (pol == engine.ConflictSuperOffice && x == engine.SuperOffice) || (pol == engine.ConflictCalendar && x == engine.Calendar) {
				want = false
			} else {
				editWins = y
			}
		}
		if present != want {
			return m.fail("%s: present=%v, want %v (deleted %v, edited %v)", tk.name, present, want, tk.deleted, tk.edited)
		}
		if !present || tk.deleted[0] || tk.deleted[1] {
			if present && editWins != "" && so[0].Title != tk.last[idx(editWins)] {
				return m.fail("%s: edit %q on %s lost to a delete: have %q", tk.name, tk.last[idx(editWins)], editWins, so[0].Title)
			}
			continue
		}
		// No lost edit: the winning edit's title is on both sides.
		var wantTitle string
		switch {
		case tk.edited[0] && tk.edited[1]:
			switch pol {
			case engine.ConflictSuperOffice:
				wantTitle = tk.last[0]
			case engine.ConflictCalendar:
				wantTitle = tk.last[1]
			default:
				wantTitle = tk.last[0]
				if tk.lastAt[1].After(tk.lastAt[0]) {
					wantTitle = tk.last[1]
				}
			}
		case tk.edited[0]:
			wantTitle = tk.last[0]
		case tk.edited[1]:
			wantTitle = tk.last[1]
		default:
			wantTitle = tk.synced
		}
		if wantTitle != "" && so[0].Title != wantTitle {
			return m.fail("%s: title %q, want %q (edited %v, last %q at %v)", tk.name, so[0].Title, wantTitle, tk.edited, tk.last, tk.lastAt)
		}
	}
	return nil
}

func runModel(t testing.TB, seed uint64, newStore func() engine.Store) (crashes, runs int, err error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pols := []engine.ConflictPolicy{engine.ConflictNewest, engine.ConflictSuperOffice, engine.ConflictCalendar}
	h := NewHarnessWith(t, engine.Policy{Conflict: pols[rng.IntN(3)], Past: 30 * 24 * time.Hour, Future: 90 * 24 * time.Hour}, newStore())
	f := &faults{}
	m := &model{t: t, seed: seed, rng: rng, h: h, f: f}
	hook := func(ctx context.Context, op string, tg sdk.Target, phase string) error { return f.check(phase) }
	h.SOP.SetHook(hook)
	h.CalP.SetHook(hook)
	h.Cfg.Store = crashStore{Store: h.Store, f: f}
	h.Cfg.MassDeleteMin = 1 << 30
	h.Cfg.FlapMax = 1 << 30
	h.Rebuild()
	m.logf("policy: conflict %s", h.Link.Policy.Conflict)

	rounds := 4 + rng.IntN(9)
	for range rounds {
		m.userRound()
		ok, err := m.syncRound()
		if err != nil {
			return m.crashes, m.runs, err
		}
		if err := m.checkSynced(ok); err != nil {
			return m.crashes, m.runs, err
		}
	}
	// Quiesce: a wide window, no faults, runs until nothing is written.
	h.Link.Policy.Past, h.Link.Policy.Future = 1000*24*time.Hour, 1000*24*time.Hour
	m.logf("config: wide window")
	for i := 0; ; i++ {
		m.tick()
		res, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{})
		m.runs++
		for _, a := range res.Done {
			m.logf("sync: %s", a)
		}
		if err != nil {
			return m.crashes, m.runs, m.fail("quiescent run %d: %v", i, err)
		}
		if len(res.Done) == 0 {
			break
		}
		if i == 5 {
			return m.crashes, m.runs, m.fail("link does not settle: still writing %v", res.Done)
		}
	}
	return m.crashes, m.runs, m.checkFinal()
}

// Model runs the randomized model test over stores made by newStore (one per
// seed): SYNC_SOAK_SEEDS seeds (default 300), or the one seed SYNC_SEED names.
func Model(t *testing.T, newStore func() engine.Store) {
	seeds := 300
	if v := os.Getenv("SYNC_SOAK_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("SYNC_SOAK_SEEDS=%q: want a positive count", v)
		}
		seeds = n
	}
	var list []uint64
	if v := os.Getenv("SYNC_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SYNC_SEED=%q: %v", v, err)
		}
		list = []uint64{s}
	} else {
		for i := range seeds {
			list = append(list, uint64(i+1))
		}
	}
	crashes, runs := 0, 0
	for _, seed := range list {
		c, r, err := runModel(t, seed, newStore)
		crashes += c
		runs += r
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("model: %d seeds, %d runs, %d injected crashes/failures", len(list), runs, crashes)
}
