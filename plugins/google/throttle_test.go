package google

import (
	"context"
	"errors"
	"testing"
	"time"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/sdk"
)

// The per-user quota runs out in the middle of a big first read: the provider
// backs off (on the shared clock) and finishes without losing a page.
func TestQuotaExhaustionMidRun(t *testing.T) {
	e := newEnv(t, gcaltest.Options{QuotaPerUser: 4}, Options{RequestsPerMinute: -1})
	u := gcaltest.UserEmail(1)
	if err := e.srv.SeedEvents(u, 400, 5); err != nil {
		t.Fatal(err)
	}
	tg := e.target(u)
	log := &sdk.RequestLog{}
	ctx := sdk.WithRecorder(context.Background(), log)
	w := e.window()
	w.Start, w.End = w.Start.AddDate(0, 0, -2), w.End.AddDate(0, 0, 2)
	var listed, hostWaits int
	cur := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("no end")
		}
		ch, err := e.p.ListChanges(ctx, tg, sdk.ChangesRequest{Cursor: cur, Window: w, PageSize: 50})
		if d, ok := sdk.RetryAfter(err); ok {
			// What the host does with a throttle that outlasted the provider's own
			// backoff: wait and ask again with the same cursor.
			hostWaits++
			e.advance(d)
			continue
		}
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		listed += len(ch.Events)
		cur = ch.Cursor
		if !ch.More {
			break
		}
	}
	if listed != 399 {
		t.Fatalf("listed %d of 399", listed)
	}
	if e.slept == 0 || hostWaits == 0 {
		t.Fatalf("backoff %v, host waits %d: the quota never ran out", e.slept, hostWaits)
	}
	var throttled int
	for _, r := range log.Records() {
		if r.Throttled {
			throttled++
			if r.Code != 403 {
				t.Fatalf("throttled record with code %d", r.Code)
			}
		}
	}
	if throttled == 0 || throttled != int(e.stats().Throttled) {
		t.Fatalf("throttled records %d, emulator refused %d", throttled, e.stats().Throttled)
	}
}

func TestThrottleOutlastingRetries(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{MaxRetries: 2})
	tg := e.target(gcaltest.UserEmail(1))
	e.faults(gcaltest.Faults{Throttle: 1, RetryAfter: 7})
	_, err := e.p.Get(context.Background(), tg, "whatever1")
	d, ok := sdk.RetryAfter(err)
	if !ok || d < 7*time.Second || d > 9*time.Second {
		t.Fatalf("got %v (retry after %v, throttled %v)", err, d, ok)
	}
	if e.slept < 14*time.Second {
		t.Fatalf("backed off %v in total, want two waits of at least 7s", e.slept)
	}
	// A Retry-After longer than the provider waits by itself comes back at once.
	e.slept = 0
	e.faults(gcaltest.Faults{Throttle: 1, RetryAfter: 120})
	_, err = e.p.Get(context.Background(), tg, "whatever1")
	if d, ok := sdk.RetryAfter(err); !ok || d < 120*time.Second || e.slept != 0 {
		t.Fatalf("long retry-after: %v slept %v", err, e.slept)
	}
	// 403 rateLimitExceeded (no Retry-After) is a throttle too.
	e.faults(gcaltest.Faults{Throttle: 1, ThrottleStatus: 403})
	_, err = e.p.Get(context.Background(), tg, "whatever1")
	mustErrIs(t, err, sdk.ErrThrottled)
	// Usage limits (403 quotaExceeded) are not tried again within the call: that
	// would spend quota on a limit that takes a while to replenish.
	e.slept = 0
	e.faults(gcaltest.Faults{QuotaExceeded: 1})
	before := e.stats().RequestsTotal
	_, err = e.p.Get(context.Background(), tg, "whatever1")
	if d, ok := sdk.RetryAfter(err); !ok || d < usageLimitsCooloff || e.slept != 0 {
		t.Fatalf("usage limits: %v, slept %v", err, e.slept)
	}
	if n := e.stats().RequestsTotal - before; n != 1 {
		t.Errorf("usage limits: %d requests, want 1", n)
	}
}

func TestServerErrorsAndTruncatedBodies(t *testing.T) {
	e := newEnv(t, gcaltest.Options{Seed: 11}, Options{})
	u := gcaltest.UserEmail(1)
	if err := e.srv.SeedEvents(u, 60, 2); err != nil {
		t.Fatal(err)
	}
	tg := e.target(u)
	w := e.window()
	w.Start, w.End = w.Start.AddDate(0, 0, -2), w.End.AddDate(0, 0, 2)
	// Every other request fails with 500/503 or a cut body: reads are repeated.
	e.faults(gcaltest.Faults{ServerErrors: 0.3, TruncateNext: 3})
	r, err := e.tryRound(context.Background(), tg, "", w)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.events) != 59 {
		t.Fatalf("listed %d of 59", len(r.events))
	}
	e.faults(gcaltest.Faults{})
	// A write is not repeated after a 5xx (it may have happened): the host sees the error.
	e.faults(gcaltest.Faults{ServerErrors: 1})
	ev, err := e.p.Create(context.Background(), tg, single("x", t0, time.Hour)) // no correlation id: no derived id
	if err == nil {
		t.Fatalf("created %+v through a failing service", ev)
	}
	if calls := e.stats().Requests["POST /calendar/v3/calendars/{calendarId}/events"]; calls != 1 {
		t.Fatalf("insert without id sent %d times", calls)
	}
}

func TestUnauthorizedMidRun(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	r := e.round(tg, "", e.window())
	e.srv.ExpireAccessTokens()
	_, err := e.p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: r.cursor, Window: e.window()})
	mustErrIs(t, err, sdk.ErrUnauthenticated)
	if errors.Is(err, sdk.ErrFullSyncRequired) {
		t.Fatal("a refused token must not look like an expired cursor")
	}
	// With a fresh token the same cursor goes on.
	if _, err := e.tryRound(context.Background(), e.target(u), r.cursor, e.window()); err != nil {
		t.Fatal(err)
	}
}

func TestPacingPerUser(t *testing.T) {
	e := newEnv(t, gcaltest.Options{QuotaPerUser: -1}, Options{RequestsPerMinute: 60})
	tg := e.target(gcaltest.UserEmail(1))
	for i := 0; i < 30; i++ {
		if _, err := e.p.Get(context.Background(), tg, "missing0001"); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatal(err)
		}
	}
	// A burst of 10 goes at once; the other 20 wait a second each.
	if e.slept < 19*time.Second || e.slept > 21*time.Second {
		t.Fatalf("paced %v for 30 requests at 60/min", e.slept)
	}
}
