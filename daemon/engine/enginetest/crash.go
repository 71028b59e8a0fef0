package enginetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/sdk"
)

// crashScenario fills both sides with a mix that exercises every kind of write:
// a synced state first, then creates, edits, deletes, a conflict, a series with
// exceptions and a cancelled occurrence, on both sides.
func crashScenario(h *Harness) {
	day := 24 * time.Hour
	for i := range 4 {
		h.SO.Put(Single(fmt.Sprintf("so%d", i), T0.Add(time.Duration(i+1)*day)))
		h.Cal.Put(Single(fmt.Sprintf("cal%d", i), T0.Add(time.Duration(i+1)*day+time.Hour)))
	}
	series := Single("series", T0.Add(2*time.Hour))
	series.Kind = sdk.KindMaster
	series.Recurrence = []string{"RRULE:FREQ=DAILY;COUNT=6"}
	m := h.SO.Put(series)
	h.SO.Put(sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: T0.Add(26 * time.Hour),
		Title: "moved", Start: T0.Add(28 * time.Hour), End: T0.Add(29 * time.Hour), ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	h.Settle()
	h.Clock.Advance(time.Minute)
	// The changes the crashing run carries out.
	h.SO.Put(Single("new so", T0.Add(5*day)))
	h.Cal.Put(Single("new cal", T0.Add(6*day)))
	h.Edit(engine.SuperOffice, "so0", Retitle("so0 edited"))
	h.Edit(engine.Calendar, "cal1", Retitle("cal1 edited"))
	h.Remove(engine.SuperOffice, "so2")
	h.Remove(engine.Calendar, "cal3")
	h.Edit(engine.SuperOffice, "so1", Retitle("so1 conflict so"))
	h.Clock.Advance(time.Minute)
	h.Edit(engine.Calendar, "so1", Retitle("so1 conflict cal"))
	h.Edit(engine.Calendar, "series", func(e *sdk.Event) {
		e.Title = "series edited"
		e.Recurrence = append(e.Recurrence, "EXDATE:"+T0.Add(50*time.Hour).UTC().Format("20060102T150405Z"))
	})
	h.Edit(engine.Calendar, "moved", Retitle("moved again"))
	mm := h.Find(engine.SuperOffice, "series")
	h.SO.Put(sdk.Event{Kind: sdk.KindException, SeriesID: mm.ID, OriginalStart: T0.Add(74 * time.Hour),
		Title: "new exception", Start: T0.Add(75 * time.Hour), End: T0.Add(76 * time.Hour), ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	h.Clock.Advance(time.Minute)
}

// CrashAtEveryStep crashes the run at every provider call and store commit,
// before and after it takes effect, restarts from the persisted store only, and
// checks that the link ends exactly as after an uninterrupted run.
func CrashAtEveryStep(t *testing.T, newStore func() engine.Store) {
	CrashAtEveryStepWith(t, newStore, nil)
}

// CrashAtEveryStepWith is CrashAtEveryStep over endpoints wrapped by wrap (nil:
// as they are), such as TwoStepCreate.
func CrashAtEveryStepWith(t *testing.T, newStore func() engine.Store, wrap func(engine.Endpoint) engine.Endpoint) {
	wrapLink := func(h *Harness) {
		if wrap != nil {
			h.Link.SuperOffice, h.Link.Calendar = wrap(h.Link.SuperOffice), wrap(h.Link.Calendar)
		}
	}
	ref := NewHarnessWith(t, engine.Policy{}, newStore())
	wrapLink(ref)
	crashScenario(ref)
	f := &faults{}
	hook := func(ctx context.Context, op string, tg sdk.Target, phase string) error { return f.check(phase) }
	ref.SOP.SetHook(hook)
	ref.CalP.SetHook(hook)
	ref.Cfg.Store = crashStore{Store: ref.Store, f: f}
	ref.Rebuild()
	ref.Run()
	steps := f.steps()
	ref.Settle()
	wantSO, wantCal := ContentOf(ref.SO), ContentOf(ref.Cal)
	if !slices.Equal(wantSO, wantCal) {
		t.Fatalf("reference run did not converge:\n%s\n--\n%s", strings.Join(wantSO, "\n"), strings.Join(wantCal, "\n"))
	}
	if steps < 20 {
		t.Fatalf("the scenario has only %d steps", steps)
	}
	points := 0
	for k := 1; k <= steps+2; k++ {
		for _, phase := range []string{"before", "after"} {
			h := NewHarnessWith(t, engine.Policy{}, newStore())
			wrapLink(h)
			crashScenario(h)
			f := &faults{}
			hook := func(ctx context.Context, op string, tg sdk.Target, phase string) error { return f.check(phase) }
			h.SOP.SetHook(hook)
			h.CalP.SetHook(hook)
			h.Cfg.Store = crashStore{Store: h.Store, f: f}
			h.Rebuild()
			f.arm(k, phase, true)
			_, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{})
			fired := f.fired > 0
			f.disarm()
			if fired {
				points++
				if err == nil {
					t.Fatalf("step %d %s: the crash did not fail the run", k, phase)
				}
				h.Rebuild()
				if err := h.Eng.Recover(context.Background(), h.Link); err != nil {
					t.Fatalf("step %d %s: recover: %v", k, phase, err)
				}
			} else if err != nil {
				t.Fatalf("step %d %s: %v", k, phase, err)
			}
			h.Settle()
			if got := ContentOf(h.SO); !slices.Equal(got, wantSO) {
				t.Fatalf("crash at step %d (%s): superoffice ends as\n  %s\nwant\n  %s", k, phase, strings.Join(got, "\n  "), strings.Join(wantSO, "\n  "))
			}
			if got := ContentOf(h.Cal); !slices.Equal(got, wantCal) {
				t.Fatalf("crash at step %d (%s): calendar ends as\n  %s\nwant\n  %s", k, phase, strings.Join(got, "\n  "), strings.Join(wantCal, "\n  "))
			}
			h.RequireTagged()
		}
	}
	t.Logf("crash points exercised: %d (%d steps, before and after each)", points, steps)
}

// InitialSyncCrashes is the in-process form of the SIGKILL test: n appointments
// (the issue asks for 10,000), the initial sync killed at random moments several
// times, each restart from the persisted store only; the end has exactly n pairs
// and no duplicate. SYNC_CRASH_SEED replays a seed.
func InitialSyncCrashes(t *testing.T, newStore func() engine.Store, n int) {
	InitialSyncCrashesWith(t, newStore, n, nil)
}

// InitialSyncCrashesWith is InitialSyncCrashes over endpoints wrapped by wrap
// (nil: as they are). Half of the items start on each side, so creates on both
// sides are crashed.
func InitialSyncCrashesWith(t *testing.T, newStore func() engine.Store, n int, wrap func(engine.Endpoint) engine.Endpoint) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SYNC_CRASH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SYNC_CRASH_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("seed %d (replay with SYNC_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	h := NewHarnessWith(t, engine.Policy{Past: 30 * 24 * time.Hour, Future: 400 * 24 * time.Hour}, newStore())
	for i := range n {
		c := h.SO
		if wrap != nil && i%2 == 1 {
			c = h.Cal
		}
		c.Put(Single(fmt.Sprintf("item %05d", i), T0.Add(time.Duration(i)*37*time.Minute)))
	}
	if wrap != nil {
		h.Link.SuperOffice, h.Link.Calendar = wrap(h.Link.SuperOffice), wrap(h.Link.Calendar)
	}
	f := &faults{}
	hook := func(ctx context.Context, op string, tg sdk.Target, phase string) error { return f.check(phase) }
	h.SOP.SetHook(hook)
	h.CalP.SetHook(hook)
	h.Cfg.Store = crashStore{Store: h.Store, f: f}
	h.Rebuild()
	kills := 0
	for range 6 {
		f.arm(1+rng.IntN(n), []string{"before", "after"}[rng.IntN(2)], true)
		_, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{})
		fired := f.fired > kills
		f.disarm()
		if !fired {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		kills++
		h.Rebuild()
		if err := h.Eng.Recover(context.Background(), h.Link); err != nil {
			t.Fatal(err)
		}
	}
	h.Settle()
	if h.Cal.Len() != n || h.SO.Len() != n || h.Pairs() != n {
		t.Fatalf("after %d kills: superoffice %d, calendar %d, pairs %d; want %d each", kills, h.SO.Len(), h.Cal.Len(), h.Pairs(), n)
	}
	h.RequireTagged()
	t.Logf("%d kills during the initial sync of %d items", kills, n)
}

// TwoStepCreate makes an endpoint's creates take two requests, as SuperOffice's
// do: the item without its correlation id, then an update that writes the id. A
// crash between the two (the first request's "after", or the second's
// "before") leaves an untagged copy, which recovery must adopt rather than
// duplicate.
func TwoStepCreate(e engine.Endpoint) engine.Endpoint { return twoStep{e} }

type twoStep struct{ engine.Endpoint }

func (e twoStep) Create(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	corr := ev.CorrelationID
	ev.CorrelationID = ""
	got, err := e.Endpoint.Create(ctx, ev)
	if err != nil || corr == "" {
		return got, err
	}
	got.CorrelationID = corr
	return e.Endpoint.Update(ctx, got)
}
