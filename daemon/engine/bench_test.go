package engine_test

import (
	"context"
	"fmt"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"testing"
	"time"
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
