package engine

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchLink builds a link with n synced pairs.
func benchLink(b *testing.B, n int) *harness {
	h := newHarness(b, Policy{Past: 30 * 24 * time.Hour, Future: 400 * 24 * time.Hour})
	for i := range n {
		ev := single(fmt.Sprintf("item %05d", i), t0.Add(time.Duration(i)*37*time.Minute))
		if i%2 == 0 {
			h.so.Put(ev)
		} else {
			h.cal.Put(ev)
		}
	}
	h.run()
	h.run()
	if got := h.store.Len(h.link.Key); got != n {
		b.Fatalf("%d pairs, want %d", got, n)
	}
	return h
}

// BenchmarkPlan10kPairs1pct plans a run of a link with 10,000 pairs where 1% of
// the items changed (half on each side). A dry run plans without writing, so
// every iteration plans the same changes.
func BenchmarkPlan10kPairs1pct(b *testing.B) {
	h := benchLink(b, 10000)
	evs := h.so.Events()
	for i := 0; i < 50; i++ {
		ev := evs[i*97]
		ev.Title += " edited"
		h.so.Put(ev)
	}
	cevs := h.cal.Events()
	for i := 0; i < 50; i++ {
		ev := cevs[i*89+1]
		ev.Location = "elsewhere"
		h.cal.Put(ev)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := h.eng.Run(context.Background(), h.link, RunOptions{DryRun: true})
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
		h.clock.Advance(time.Hour) // the same items edited hourly: no flapping
		rev++
		evs := h.so.Events()
		for i := 0; i < 100; i++ {
			ev := evs[i*97]
			ev.Title = fmt.Sprintf("edited %d", rev)
			h.so.Put(ev)
		}
		b.StartTimer()
		res, err := h.eng.Run(context.Background(), h.link, RunOptions{})
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
	h.ops.reset()
	runs := 0
	for b.Loop() {
		if _, err := h.eng.Run(context.Background(), h.link, RunOptions{}); err != nil {
			b.Fatal(err)
		}
		runs++
	}
	so, cal := h.ops.get("superoffice.ListChanges"), h.ops.get("calendar.ListChanges")
	if so != runs || cal != runs || h.ops.writes() != 0 || len(h.ops.ops) != 2 {
		b.Fatalf("%d idle runs made %v", runs, h.ops.ops)
	}
	b.ReportMetric(float64(so+cal)/float64(runs), "list-requests/run")
	b.ReportMetric(float64(h.ops.writes())/float64(runs), "writes/run")
}
