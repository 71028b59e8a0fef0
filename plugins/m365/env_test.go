package m365

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A Monday in March, two weeks before Europe's DST switch and one after America's.
var t0 = time.Date(2026, 3, 16, 10, 0, 0, 0, time.UTC)

type env struct {
	t     testing.TB
	srv   *graphtest.Server
	ts    *httptest.Server
	clk   *testClock
	p     *Provider
	log   *sdk.RequestLog
	ctx   context.Context
	mu    sync.Mutex
	waits []time.Duration
	// intercept, when set, sees every request first and answers it itself
	// when it returns true.
	intercept *atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
}

func newEnv(t testing.TB, opts graphtest.Options) *env {
	t.Helper()
	clk := &testClock{t: t0}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	srv := graphtest.New(opts)
	if err := srv.Populate(3, 2); err != nil {
		t.Fatal(err)
	}
	var intercept atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := intercept.Load(); f != nil && (*f)(w, r) {
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	e := &env{t: t, srv: srv, ts: ts, clk: clk, log: &sdk.RequestLog{}, intercept: &intercept}
	e.ctx = sdk.WithRecorder(context.Background(), e.log)
	e.p = New(nil)
	e.p.now = clk.Now
	e.p.sleep = func(ctx context.Context, d time.Duration) error {
		e.mu.Lock()
		e.waits = append(e.waits, d)
		e.mu.Unlock()
		return ctx.Err()
	}
	if err := e.p.Configure(e.ctx, "acme", srv.Settings(ts.URL, false)); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) target(account string) sdk.Target {
	return sdk.Target{Instance: "acme", Account: account, Credential: sdk.Credential{Type: "bearer", Token: e.srv.AdminToken()}}
}

// window is the usual sync window around the test clock: 30 days back, 365 ahead.
func (e *env) window() sdk.Window {
	now := e.clk.Now()
	return sdk.Window{Start: now.AddDate(0, 0, -30), End: now.AddDate(0, 0, 365)}
}

// round runs ListChanges to the end of a round and returns everything it gave.
func (e *env) round(t sdk.Target, cursor string, w sdk.Window, pageSize int) (events []sdk.Event, removed []string, full bool, next string) {
	e.t.Helper()
	for i := 0; i < 10000; i++ {
		ch, err := e.p.ListChanges(e.ctx, t, sdk.ChangesRequest{Cursor: cursor, Window: w, PageSize: pageSize})
		if err != nil {
			e.t.Fatalf("ListChanges: %v", err)
		}
		events = append(events, ch.Events...)
		removed = append(removed, ch.Removed...)
		full = full || ch.Full
		cursor = ch.Cursor
		if !ch.More {
			return events, removed, full, cursor
		}
	}
	e.t.Fatal("ListChanges did not finish its round")
	return
}

func (e *env) requests() int { return len(e.log.Records()) }

func byID(evs []sdk.Event) map[string]sdk.Event {
	m := map[string]sdk.Event{}
	for _, ev := range evs {
		m[ev.ID] = ev
	}
	return m
}

func ids(evs []sdk.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	sort.Strings(out)
	return out
}

func mustErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

var _ = http.StatusOK

func httpPost(url, body string) (int, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
