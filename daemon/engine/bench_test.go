package engine_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"synchronizer/plugins/sdk"
)

// benchLink builds a link with n synced pairs.
func benchLink(b *testing.B, n int) *enginetest.Harness {
	h := enginetest.NewHarness(b, engine.Policy{Past: 30 * 24 * time.Hour, Future: 400 * 24 * time.Hour})
	for i := range n {
		ev := enginetest.Single(fmt.Sprintf("item %05d", i), enginetest.T0.Add(time.Duration(i)*37*time.Minute))
		if i%2 == 0 {
			h.SO.Put(ev)
		} else {
			h.Cal.Put(ev)
		}
	}
	h.Run()
	h.Run()
	if got := h.Pairs(); got != n {
		b.Fatalf("%d pairs, want %d", got, n)
	}
	return h
}

// BenchmarkPlan10kPairs1pct plans a run of a link with 10,000 pairs where 1% of
// the items changed (half on each side). A dry run plans without writing, so
// every iteration plans the same changes.
func BenchmarkPlan10kPairs1pct(b *testing.B) {
	h := benchLink(b, 10000)
	evs := h.SO.Events()
	for i := 0; i < 50; i++ {
		ev := evs[i*97]
		ev.Title += " edited"
		h.SO.Put(ev)
	}
	cevs := h.Cal.Events()
	for i := 0; i < 50; i++ {
		ev := cevs[i*89+1]
		ev.Location = "elsewhere"
		h.Cal.Put(ev)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{DryRun: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Plan) != 100 {
			b.Fatalf("planned %d writes, want 100", len(res.Plan))
		}
	}
}

// BenchmarkRun10kPairs1pct carries out such a run (the changes are made anew
// each iteration, outside the timer).
func BenchmarkRun10kPairs1pct(b *testing.B) {
	h := benchLink(b, 10000)
	rev := 0
	for b.Loop() {
		b.StopTimer()
		h.Clock.Advance(time.Hour) // the same items edited hourly: no flapping
		rev++
		evs := h.SO.Events()
		for i := 0; i < 100; i++ {
			ev := evs[i*97]
			ev.Title = fmt.Sprintf("edited %d", rev)
			h.SO.Put(ev)
		}
		b.StartTimer()
		res, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Done) != 100 {
			b.Fatalf("%d writes, want 100 (notes %v, errors %v, plan %d)", len(res.Done), res.Notes[:min(3, len(res.Notes))], res.ItemErrors, len(res.Plan))
		}
	}
}

// BenchmarkIdleRun10kPairs is a run where nothing changed: it must cost one
// list-changes request per side and no write.
func BenchmarkIdleRun10kPairs(b *testing.B) {
	h := benchLink(b, 10000)
	h.Ops.Reset()
	runs := 0
	for b.Loop() {
		if _, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{}); err != nil {
			b.Fatal(err)
		}
		runs++
	}
	so, cal := h.Ops.Get("superoffice.ListChanges"), h.Ops.Get("calendar.ListChanges")
	if so != runs || cal != runs || h.Ops.Writes() != 0 || len(h.Ops.All()) != 2 {
		b.Fatalf("%d idle runs made %v", runs, h.Ops.All())
	}
	b.ReportMetric(float64(so+cal)/float64(runs), "list-requests/run")
	b.ReportMetric(float64(h.Ops.Writes())/float64(runs), "writes/run")
}

// BenchmarkInitialSyncHeld measures the memory one run of an initial sync
// holds: 300 items on each side (with text, as people write them), the heap
// after a collection at the first create (all planned) and at the 300th (half
// written), less the heap before the run, per item listed (creates are
// answered without being kept, so only the engine's hold is measured). The scheduler runs
// many such runs at once, so this bounds how many fit in the daemon's memory.
func BenchmarkInitialSyncHeld(b *testing.B) {
	const n = 600
	var atPlan, atHalf float64
	for b.Loop() {
		b.StopTimer()
		h := enginetest.NewHarness(b, engine.Policy{Past: 30 * 24 * time.Hour, Future: 400 * 24 * time.Hour})
		for i := range n {
			ev := enginetest.Single(fmt.Sprintf("Customer meeting %04d about the quarterly plan", i), enginetest.T0.Add(time.Duration(i)*37*time.Minute))
			ev.Description = strings.Repeat(fmt.Sprintf("Agenda item %d, notes and follow-ups. ", i), 5)
			ev.Location = fmt.Sprintf("Meeting room %d, second floor", i%40)
			ev.HasReminder, ev.ReminderMinutes = true, 15
			if i%2 == 0 {
				h.SO.Put(ev)
			} else {
				h.Cal.Put(ev)
			}
		}
		var base, plan, half uint64
		creates := 0
		sink := func(e engine.Endpoint) engine.Endpoint {
			return sinkCreates{Endpoint: e, create: func(ev sdk.Event) sdk.Event {
				creates++
				switch creates {
				case 1:
					plan = heapInUse()
				case n / 2:
					half = heapInUse()
				}
				ev.ID, ev.Version = fmt.Sprintf("new%d", creates), "1"
				return ev
			}}
		}
		h.Link.SuperOffice, h.Link.Calendar = sink(h.Link.SuperOffice), sink(h.Link.Calendar)
		base = heapInUse()
		b.StartTimer()
		h.Run()
		b.StopTimer()
		atPlan += float64(plan) - float64(base)
		atHalf += float64(half) - float64(base)
		b.StartTimer()
	}
	b.ReportMetric(atPlan/float64(b.N)/n, "held-B/item@plan")
	b.ReportMetric(atHalf/float64(b.N)/n, "held-B/item@half")
}

// sinkCreates answers creates itself and keeps nothing, so that only what the
// engine holds is measured.
type sinkCreates struct {
	engine.Endpoint
	create func(sdk.Event) sdk.Event
}

func (e sinkCreates) Create(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	return e.create(ev), nil
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkInitialSync600 is the first run of a link with 300 items on each
// side over the in-memory store: the engine's own cost per item created.
func BenchmarkInitialSync600(b *testing.B) {
	const n = 600
	for b.Loop() {
		b.StopTimer()
		h := enginetest.NewHarness(b, engine.Policy{Past: 30 * 24 * time.Hour, Future: 400 * 24 * time.Hour})
		for i := range n {
			ev := enginetest.Single(fmt.Sprintf("Customer meeting %04d", i), enginetest.T0.Add(time.Duration(i)*37*time.Minute))
			ev.Description = "Agenda, notes and follow-ups."
			if i%2 == 0 {
				h.SO.Put(ev)
			} else {
				h.Cal.Put(ev)
			}
		}
		b.StartTimer()
		if res := h.Run(); len(res.Done) != n {
			b.Fatalf("%d writes, want %d", len(res.Done), n)
		}
	}
}
