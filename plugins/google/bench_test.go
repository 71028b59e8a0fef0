package google

import (
	"context"
	"strconv"
	"testing"
	"time"

	"synchronizer/plugins/sdk"

	"synchronizer/plugins/google/gcaltest"
)

// BenchmarkInitialLoad5000 reads a calendar of 5,000 seeded items (singles, all-day,
// private, free, ten weekly series each with a moved and a cancelled occurrence) from
// an empty cursor, through Google's client, over loopback HTTP. requests/op counts
// HTTP requests as the daemon's metrics see them (a batch counts once); calls/op
// counts API calls as Google's quota does (each call inside a batch counts).
func BenchmarkInitialLoad5000(b *testing.B) {
	e := newEnv(b, gcaltest.Options{QuotaPerUser: -1}, Options{RequestsPerMinute: -1})
	u := gcaltest.UserEmail(1)
	if err := e.srv.SeedEvents(u, 5000, 1); err != nil {
		b.Fatal(err)
	}
	tg := e.target(u)
	w := e.window()
	w.Start, w.End = w.Start.AddDate(0, 0, -2), w.End.AddDate(0, 0, 2)
	b.ResetTimer()
	var calls int64
	n, reqs := 0, 0
	for i := 0; i < b.N; i++ {
		before := e.stats().RequestsTotal
		log := &sdk.RequestLog{}
		r, err := e.tryRound(sdk.WithRecorder(context.Background(), log), tg, "", w)
		if err != nil {
			b.Fatal(err)
		}
		calls += e.stats().RequestsTotal - before
		reqs += len(log.Records())
		n = len(r.events)
	}
	b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
	b.ReportMetric(float64(n), "events")
}

// BenchmarkIdleRound is a round with no change after the initial load of 5,000
// items, the window sliding by a five-minute interval each time (with a slice of
// the newly covered future read once per WindowQuantum).
func BenchmarkIdleRound(b *testing.B) {
	e := newEnv(b, gcaltest.Options{QuotaPerUser: -1}, Options{RequestsPerMinute: -1})
	u := gcaltest.UserEmail(1)
	if err := e.srv.SeedEvents(u, 5000, 1); err != nil {
		b.Fatal(err)
	}
	tg := e.target(u)
	cur := e.round(tg, "", e.window()).cursor
	b.ResetTimer()
	var reqs int64
	for i := 0; i < b.N; i++ {
		e.advance(5 * time.Minute)
		if i%10 == 0 {
			b.StopTimer()
			tg = e.target(u) // the host refreshes its token hourly
			b.StartTimer()
		}
		log := &sdk.RequestLog{}
		r, err := e.tryRound(sdk.WithRecorder(context.Background(), log), tg, cur, e.window())
		if err != nil {
			b.Fatal(err)
		}
		reqs += int64(len(log.Records()))
		cur = r.cursor
		for _, ev := range r.events {
			if !inWindow(nil, ev, e.window()) {
				b.Fatalf("idle round reported %s outside the window", ev.ID)
			}
		}
	}
	b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
}

// BenchmarkCreate is one create of a single event as the host makes it (with a
// correlation id), provider and emulator together, without pacing.
func BenchmarkCreate(b *testing.B) {
	e := newEnv(b, gcaltest.Options{QuotaPerUser: -1}, Options{RequestsPerMinute: -1})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	start := t0.Add(24 * time.Hour).Truncate(time.Hour)
	before := e.stats().RequestsTotal
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := single("Budget review "+strconv.Itoa(i), start.Add(time.Duration(i%2000)*time.Hour), time.Hour)
		ev.Description, ev.Location, ev.CorrelationID = "Agenda\nwith finance", "Room 4", "corr-"+strconv.Itoa(i)
		if _, err := e.p.Create(context.Background(), tg, ev); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(e.stats().RequestsTotal-before)/float64(b.N), "requests/op")
}
