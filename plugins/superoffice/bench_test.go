package superoffice_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
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

// replay answers the diary scan (GET /v1/Appointment) with the answer it
// recorded last, without asking the emulator, once on is set; every other
// request goes through.
type replay struct {
	base http.RoundTripper
	on   atomic.Bool
	mu   sync.Mutex
	body []byte
	hdr  http.Header
}

func (r *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	scan := req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/v1/Appointment")
	if scan && r.on.Load() {
		r.mu.Lock()
		body, hdr := r.body, r.hdr.Clone()
		r.mu.Unlock()
		return &http.Response{StatusCode: http.StatusOK, Header: hdr, Body: io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)), Request: req}, nil
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil || !scan {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.body, r.hdr = body, resp.Header.Clone()
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// BenchmarkNoChangeRoundProvider5000 is the provider's share of a round without
// changes: the scan's answer is replayed, so the emulator costs nothing.
func BenchmarkNoChangeRoundProvider5000(b *testing.B) {
	e := newEnv(b)
	if err := e.so.SeedEvents("USER1", 5000, 1); err != nil {
		b.Fatal(err)
	}
	rt := &replay{base: http.DefaultTransport}
	e.p.SetTransport(rt)
	if err := e.p.Configure(context.Background(), "acme", e.settings); err != nil {
		b.Fatal(err)
	}
	tg := e.target(e.user1)
	_, _, cur, _ := e.listAll(tg, "", 0)
	_, _, cur, _ = e.listAll(tg, cur, 0) // the first round after a full read rewrites the cursor
	rt.on.Store(true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, next, _ := e.listAll(tg, cur, 0)
		if next != cur {
			b.Fatal("a round without changes gave a new cursor")
		}
	}
}

// BenchmarkCreate is one create of a single appointment as the host makes it
// (with a correlation id), provider and emulator together.
func BenchmarkCreate(b *testing.B) {
	e := newEnv(b)
	tg := e.target(e.user1)
	start := e.clk.Now().Add(24 * time.Hour).Truncate(time.Hour)
	before := e.requests()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at := start.Add(time.Duration(i%2000) * time.Hour)
		_, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Budget review " + strconv.Itoa(i), Description: "Agenda\nwith finance",
			Location: "Room 4", Start: at, End: at.Add(time.Hour), ShowAs: sdk.ShowBusy, CorrelationID: "corr-" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(e.requests()-before)/float64(b.N), "requests/op")
}

// BenchmarkNoChangeRoundAfterCreates is the provider's share of a round without
// changes within the hour after 600 creates of its own (which it remembers, to
// report those deleted before the next round): the answer is replayed.
func BenchmarkNoChangeRoundAfterCreates(b *testing.B) {
	e := newEnv(b)
	if err := e.so.SeedEvents("USER1", 300, 1); err != nil {
		b.Fatal(err)
	}
	rt := &replay{base: http.DefaultTransport}
	e.p.SetTransport(rt)
	if err := e.p.Configure(context.Background(), "acme", e.settings); err != nil {
		b.Fatal(err)
	}
	tg := e.target(e.user1)
	start := e.clk.Now().Add(24 * time.Hour).Truncate(time.Hour)
	for i := 0; i < 600; i++ {
		at := start.Add(time.Duration(i) * time.Hour)
		if _, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Copy " + strconv.Itoa(i), Start: at, End: at.Add(time.Hour),
			CorrelationID: "corr-" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
	e.clk.Add(10 * time.Second)
	_, _, cur, _ := e.listAll(tg, "", 0)
	e.clk.Add(10 * time.Second)
	_, _, cur, _ = e.listAll(tg, cur, 0)
	_, _, cur, _ = e.listAll(tg, cur, 0)
	rt.on.Store(true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, next, _ := e.listAll(tg, cur, 0)
		if next != cur {
			b.Fatal("a round without changes gave a new cursor")
		}
	}
}
