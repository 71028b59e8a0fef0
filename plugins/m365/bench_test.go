package m365

import (
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

// BenchmarkInitialLoad5000 reads a mailbox of 5,000 seeded items (singles, all-day,
// private, series with exceptions and cancelled occurrences) from an empty cursor.
// requests/op counts HTTP requests ($batch counts once).
func BenchmarkInitialLoad5000(b *testing.B) {
	for _, size := range []int{0, 1000} {
		b.Run(pageName(size), func(b *testing.B) {
			e := newEnv(b, graphtest.Options{RateLimit: -1})
			if err := e.srv.SeedEvents("user1@m365.test", 5000, 1); err != nil {
				b.Fatal(err)
			}
			tg := e.target("user1@m365.test")
			w := e.window()
			b.ResetTimer()
			var n, reqs int
			for i := 0; i < b.N; i++ {
				before := e.requests()
				evs, _, _, _ := e.round(tg, "", w, size)
				reqs += e.requests() - before
				n = len(evs)
			}
			b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
			b.ReportMetric(float64(n), "events")
		})
	}
}

// BenchmarkIdleRound is a round with no change after the initial load, with the
// window sliding as time passes (a five-minute interval).
func BenchmarkIdleRound(b *testing.B) {
	e := newEnv(b, graphtest.Options{RateLimit: -1})
	if err := e.srv.SeedEvents("user1@m365.test", 5000, 1); err != nil {
		b.Fatal(err)
	}
	tg := e.target("user1@m365.test")
	_, _, _, cur := e.round(tg, "", e.window(), 0)
	b.ResetTimer()
	reqs := 0
	for i := 0; i < b.N; i++ {
		e.clk.Advance(5 * time.Minute)
		before := e.requests()
		var evs []sdk.Event
		evs, _, _, cur = e.round(tg, cur, e.window(), 0)
		reqs += e.requests() - before
		if len(evs) != 0 {
			b.Fatalf("idle round reported %d events", len(evs))
		}
	}
	b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
}

func pageName(n int) string {
	if n == 0 {
		return "page=default"
	}
	return "page=" + itoa(n)
}

func itoa(n int) string {
	s := ""
	for n > 0 || s == "" {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

// BenchmarkCreate is one create of a single event as the host makes it (with a
// correlation id), provider and emulator together.
func BenchmarkCreate(b *testing.B) {
	e := newEnv(b, graphtest.Options{RateLimit: -1})
	tg := e.target("user1@m365.test")
	start := e.clk.Now().Add(24 * time.Hour).Truncate(time.Hour)
	before := e.requests()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at := start.Add(time.Duration(i%2000) * time.Hour)
		_, err := e.p.Create(e.ctx, tg, sdk.Event{Title: "Budget review " + itoa(i), Description: "Agenda\nwith finance",
			Location: "Room 4", Start: at, End: at.Add(time.Hour), TimeZone: "Europe/Oslo", ShowAs: sdk.ShowBusy,
			CorrelationID: "corr-" + itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(e.requests()-before)/float64(b.N), "requests/op")
}
