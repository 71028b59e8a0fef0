package superoffice_test

import (
	"testing"
)

// The initial load of a 5,000-appointment diary, and a round without changes:
// b.ReportMetric gives the requests each costs. Run with -bench . -benchtime 3x.
func BenchmarkInitialLoad5000(b *testing.B) {
	e := newEnv(b)
	if err := e.so.SeedEvents("USER1", 5000, 1); err != nil {
		b.Fatal(err)
	}
	tg := e.target(e.user1)
	var n, events int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := e.requests()
		evs, _, _, _ := e.listAll(tg, "", 0)
		n, events = e.requests()-before, len(evs)
	}
	b.ReportMetric(float64(n), "requests/op")
	b.ReportMetric(float64(events), "events/op")
}

func BenchmarkNoChangeRound5000(b *testing.B) {
	e := newEnv(b)
	if err := e.so.SeedEvents("USER1", 5000, 1); err != nil {
		b.Fatal(err)
	}
	tg := e.target(e.user1)
	_, _, cur, _ := e.listAll(tg, "", 0)
	var n int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := e.requests()
		_, _, cur, _ = e.listAll(tg, cur, 0)
		n = e.requests() - before
	}
	b.StopTimer()
	b.ReportMetric(float64(n), "requests/op")
	b.ReportMetric(float64(len(cur)), "cursor-bytes")
}
