package engine

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

	"synchronizer/plugins/sdk"
)

// crashScenario fills both sides with a mix that exercises every kind of write:
// a synced state first, then creates, edits, deletes, a conflict, a series with
// exceptions and a cancelled occurrence, on both sides.
func crashScenario(h *harness) {
	day := 24 * time.Hour
	for i := range 4 {
		h.so.Put(single(fmt.Sprintf("so%d", i), t0.Add(time.Duration(i+1)*day)))
		h.cal.Put(single(fmt.Sprintf("cal%d", i), t0.Add(time.Duration(i+1)*day+time.Hour)))
	}
	series := single("series", t0.Add(2*time.Hour))
	series.Kind = sdk.KindMaster
	series.Recurrence = []string{"RRULE:FREQ=DAILY;COUNT=6"}
	m := h.so.Put(series)
	h.so.Put(sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: t0.Add(26 * time.Hour),
		Title: "moved", Start: t0.Add(28 * time.Hour), End: t0.Add(29 * time.Hour), ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	h.settle()
	h.clock.Advance(time.Minute)
	// The changes the crashing run carries out.
	h.so.Put(single("new so", t0.Add(5*day)))
	h.cal.Put(single("new cal", t0.Add(6*day)))
	h.edit(SuperOffice, "so0", retitle("so0 edited"))
	h.edit(Calendar, "cal1", retitle("cal1 edited"))
	h.remove(SuperOffice, "so2")
	h.remove(Calendar, "cal3")
	h.edit(SuperOffice, "so1", retitle("so1 conflict so"))
	h.clock.Advance(time.Minute)
	h.edit(Calendar, "so1", retitle("so1 conflict cal"))
	h.edit(Calendar, "series", func(e *sdk.Event) {
		e.Title = "series edited"
		e.Recurrence = append(e.Recurrence, "EXDATE:"+t0.Add(50*time.Hour).UTC().Format("20060102T150405Z"))
	})
	h.edit(Calendar, "moved", retitle("moved again"))
	mm := h.find(SuperOffice, "series")
	h.so.Put(sdk.Event{Kind: sdk.KindException, SeriesID: mm.ID, OriginalStart: t0.Add(74 * time.Hour),
		Title: "new exception", Start: t0.Add(75 * time.Hour), End: t0.Add(76 * time.Hour), ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	h.clock.Advance(time.Minute)
}

// TestCrashAtEveryStep crashes the run at every provider call and store commit,
// before and after it takes effect, restarts from the persisted store only, and
// checks that the link ends exactly as after an uninterrupted run.
func TestCrashAtEveryStep(t *testing.T) {
	ref := newHarness(t, Policy{})
	crashScenario(ref)
	f := &faults{}
	hook := func(ctx context.Context, op string, tg sdk.Target, phase string) error { return f.check(phase) }
	ref.soP.SetHook(hook)
	ref.calP.SetHook(hook)
	ref.cfg.Store = crashStore{Store: ref.store, f: f}
	ref.rebuild()
	ref.run()
	steps := f.steps()
	ref.settle()
	wantSO, wantCal := contentOf(ref.so), contentOf(ref.cal)
	if !slices.Equal(wantSO, wantCal) {
		t.Fatalf("reference run did not converge:\n%s\n--\n%s", strings.Join(wantSO, "\n"), strings.Join(wantCal, "\n"))
	}
	if steps < 20 {
		t.Fatalf("the scenario has only %d steps", steps)
	}
	points := 0
	for k := 1; k <= steps+2; k++ {
		for _, phase := range []string{"before", "after"} {
			h := newHarness(t, Policy{})
			crashScenario(h)
			f := &faults{}
			hook := func(ctx context.Context, op string, tg sdk.Target, phase string) error { return f.check(phase) }
			h.soP.SetHook(hook)
			h.calP.SetHook(hook)
			h.cfg.Store = crashStore{Store: h.store, f: f}
			h.rebuild()
			f.arm(k, phase, true)
			_, err := h.eng.Run(context.Background(), h.link, RunOptions{})
			fired := f.fired > 0
			f.disarm()
			if fired {
				points++
				if err == nil {
					t.Fatalf("step %d %s: the crash did not fail the run", k, phase)
				}
				h.rebuild()
				if err := h.eng.Recover(context.Background(), h.link); err != nil {
					t.Fatalf("step %d %s: recover: %v", k, phase, err)
				}
			} else if err != nil {
				t.Fatalf("step %d %s: %v", k, phase, err)
			}
			h.settle()
			if got := contentOf(h.so); !slices.Equal(got, wantSO) {
				t.Fatalf("crash at step %d (%s): superoffice ends as\n  %s\nwant\n  %s", k, phase, strings.Join(got, "\n  "), strings.Join(wantSO, "\n  "))
			}
			if got := contentOf(h.cal); !slices.Equal(got, wantCal) {
				t.Fatalf("crash at step %d (%s): calendar ends as\n  %s\nwant\n  %s", k, phase, strings.Join(got, "\n  "), strings.Join(wantCal, "\n  "))
			}
			h.requireTagged()
		}
	}
	t.Logf("crash points exercised: %d (%d steps, before and after each)", points, steps)
}

// TestInitialSyncCrashes is the in-process form of the SIGKILL test: 10,000
// appointments, the initial sync killed at random moments several times, each
// restart from the persisted store only; the end has exactly 10,000 pairs and no
// duplicate.
func TestInitialSyncCrashes(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
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
	h := newHarness(t, Policy{Past: 30 * 24 * time.Hour, Future: 400 * 24 * time.Hour})
	for i := range n {
		h.so.Put(single(fmt.Sprintf("item %05d", i), t0.Add(time.Duration(i)*37*time.Minute)))
	}
	f := &faults{}
	hook := func(ctx context.Context, op string, tg sdk.Target, phase string) error { return f.check(phase) }
	h.soP.SetHook(hook)
	h.calP.SetHook(hook)
	h.cfg.Store = crashStore{Store: h.store, f: f}
	h.rebuild()
	kills := 0
	for range 6 {
		f.arm(1+rng.IntN(n), []string{"before", "after"}[rng.IntN(2)], true)
		_, err := h.eng.Run(context.Background(), h.link, RunOptions{})
		fired := f.fired > kills
		f.disarm()
		if !fired {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		kills++
		h.rebuild()
		if err := h.eng.Recover(context.Background(), h.link); err != nil {
			t.Fatal(err)
		}
	}
	h.settle()
	if h.cal.Len() != n || h.so.Len() != n || h.store.Len(h.link.Key) != n {
		t.Fatalf("after %d kills: superoffice %d, calendar %d, pairs %d; want %d each", kills, h.so.Len(), h.cal.Len(), h.store.Len(h.link.Key), n)
	}
	h.requireTagged()
	t.Logf("%d kills during the initial sync of %d items", kills, n)
}
