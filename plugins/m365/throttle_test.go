package m365

import (
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

// Twelve calls at once against one mailbox: the provider keeps four in flight, so
// Exchange's concurrency limit is never hit.
func TestBurstStaysUnderConcurrencyLimit(t *testing.T) {
	e := newEnv(t, graphtest.Options{Latency: 20 * time.Millisecond})
	tg := e.target("user1@m365.test")
	ev := e.create(tg, sdk.Event{Title: "x", Start: t0.Add(time.Hour)})
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.p.Get(e.ctx, tg, ev.ID)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.srv.Stats().Throttled; n != 0 {
		t.Fatalf("%d requests were throttled", n)
	}
	// Another mailbox is not held up by the first one's limit.
	other := e.target("user2@m365.test")
	if _, err := e.p.ListChanges(e.ctx, other, sdk.ChangesRequest{Window: e.window()}); err != nil {
		t.Fatal(err)
	}
}

func TestThrottling(t *testing.T) {
	tests := []struct {
		name      string
		faults    string
		opts      graphtest.Options
		wantWaits []time.Duration
		wantAfter time.Duration
	}{
		{"short Retry-After is waited out, then handed over", `{"throttle":1,"retry_after":2}`, graphtest.Options{}, []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second}, 2 * time.Second},
		{"long Retry-After is handed over at once", `{"throttle":1,"retry_after":60}`, graphtest.Options{}, nil, time.Minute},
		{"rate limit per mailbox", `{}`, graphtest.Options{RateLimit: 3}, nil, 10 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			tg := e.target("user1@m365.test")
			postFaults(t, e, tc.faults)
			var err error
			for i := 0; i < 5 && err == nil; i++ {
				_, err = e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Window: e.window()})
			}
			mustErrIs(t, err, sdk.ErrThrottled)
			after, ok := sdk.RetryAfter(err)
			if !ok || after != tc.wantAfter {
				t.Errorf("RetryAfter = %v, %v; want %v", after, ok, tc.wantAfter)
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			if len(e.waits) != len(tc.wantWaits) {
				t.Fatalf("waited %v, want %v", e.waits, tc.wantWaits)
			}
			for i := range e.waits {
				if e.waits[i] != tc.wantWaits[i] {
					t.Fatalf("waited %v, want %v", e.waits, tc.wantWaits)
				}
			}
			throttled := 0
			for _, r := range e.log.Records() {
				if r.Throttled {
					throttled++
				}
			}
			if throttled == 0 {
				t.Error("the request log saw no throttled request")
			}
		})
	}
}

// Occasional 5xx answers are retried with backoff and do not surface.
func TestServerErrorsAreRetried(t *testing.T) {
	e := newEnv(t, graphtest.Options{Seed: 3})
	tg := e.target("user1@m365.test")
	for i := 0; i < 10; i++ {
		e.create(tg, sdk.Event{Title: "x", Start: t0.Add(time.Duration(i+1) * time.Hour)})
	}
	postFaults(t, e, `{"server_errors":0.3}`)
	evs, _, _, _ := e.round(tg, "", e.window(), 0)
	if len(evs) != 10 {
		t.Fatalf("got %d events", len(evs))
	}
	if e.srv.Stats().ServerErrors == 0 {
		t.Fatal("no server error was injected")
	}
}
