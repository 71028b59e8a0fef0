package google

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/sdk"
)

// t0 is the tests' "now": the Monday before the spring DST change in Europe.
var t0 = time.Date(2024, 3, 25, 8, 0, 0, 0, time.UTC)

// env is the provider against an emulator on a loopback listener, with a clock both
// share and a sleep that advances it instead of waiting.
type env struct {
	t    testing.TB
	srv  *gcaltest.Server
	ts   *httptest.Server
	p    *Provider
	mu   sync.Mutex
	now  time.Time
	logs *bytes.Buffer
	// slept is the total backoff the provider asked for.
	slept time.Duration
}

func newEnv(t testing.TB, opts gcaltest.Options, popts Options) *env {
	t.Helper()
	e := &env{t: t, now: t0, logs: &bytes.Buffer{}}
	opts.Now = e.clock
	e.srv = gcaltest.New(opts)
	e.ts = httptest.NewServer(e.srv)
	t.Cleanup(func() { e.ts.Close(); e.srv.Close() })
	for _, u := range []gcaltest.User{{Email: gcaltest.UserEmail(1), Name: "User One"},
		{Email: gcaltest.UserEmail(2), Name: "User Two"}, {Email: "admin@google.test", Name: "Admin", Admin: true}} {
		if err := e.srv.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 2; i++ {
		if err := e.srv.AddResource(gcaltest.Resource{Email: gcaltest.ResourceEmail(i), Name: "Room " + string(rune('0'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	popts.Now = e.clock
	popts.Sleep = e.sleep
	if popts.Seed == 0 {
		popts.Seed = 1
	}
	popts.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs, mu: &e.mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.p = NewWithOptions(popts)
	if err := e.p.Configure(context.Background(), "gw", map[string]string{"endpoint": e.ts.URL, "client_id": "cid", "client_secret": "secret"}); err != nil {
		t.Fatal(err)
	}
	return e
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *env) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.slept += d
	e.mu.Unlock()
	return nil
}

func (e *env) logText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

// target is a user's own calendar with the user's token.
func (e *env) target(account string) sdk.Target {
	e.t.Helper()
	tok, err := e.srv.TokenFor(account)
	if err != nil {
		e.t.Fatal(err)
	}
	return sdk.Target{Instance: "gw", Account: account, Credential: sdk.Credential{Type: "bearer", Token: tok}}
}

// adminTarget is a resource calendar reached with the admin connection.
func (e *env) adminTarget(account string) sdk.Target {
	e.t.Helper()
	tok, err := e.srv.TokenFor("admin@google.test")
	if err != nil {
		e.t.Fatal(err)
	}
	return sdk.Target{Instance: "gw", Account: account, Credential: sdk.Credential{Type: "bearer", Token: tok}}
}

// window is 30 days back and 120 ahead of the env's clock.
func (e *env) window() sdk.Window {
	now := e.clock()
	return sdk.Window{Start: now.AddDate(0, 0, -30), End: now.AddDate(0, 0, 120)}
}

// google is Google's own client with the admin token, for out-of-band edits.
func (e *env) google() *gcal.Service {
	e.t.Helper()
	s, err := gcal.NewService(context.Background(), option.WithEndpoint(e.ts.URL+"/calendar/v3/"),
		option.WithHTTPClient(&http.Client{Transport: bearerRT{tok: e.srv.AdminToken()}}))
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

type bearerRT struct{ tok string }

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

// round reads a whole change round and returns what it listed.
type roundResult struct {
	events  map[string]sdk.Event
	removed map[string]bool
	full    bool
	cursor  string
	pages   int
}

func (e *env) round(t sdk.Target, cursor string, w sdk.Window) roundResult {
	e.t.Helper()
	r, err := e.tryRound(context.Background(), t, cursor, w)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) tryRound(ctx context.Context, t sdk.Target, cursor string, w sdk.Window) (roundResult, error) {
	r := roundResult{events: map[string]sdk.Event{}, removed: map[string]bool{}}
	cur := cursor
	for {
		r.pages++
		if r.pages > 1000 {
			return r, errors.New("paging does not end")
		}
		ch, err := e.p.ListChanges(ctx, t, sdk.ChangesRequest{Cursor: cur, Window: w})
		if err != nil {
			return r, err
		}
		r.full = r.full || ch.Full
		for _, ev := range ch.Events {
			r.events[ev.ID] = ev
			delete(r.removed, ev.ID)
		}
		for _, id := range ch.Removed {
			delete(r.events, id)
			r.removed[id] = true
		}
		if ch.More && (ch.Cursor == "" || ch.Cursor == cur) {
			return r, errors.New("more pages but no new cursor")
		}
		cur = ch.Cursor
		if !ch.More {
			r.cursor = cur
			return r, nil
		}
	}
}

func (e *env) stats() gcaltest.StatsSnapshot { return e.srv.Stats() }

func (e *env) faults(f gcaltest.Faults) { e.srv.SetFaults(f) }

func mustErrIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func byTitle(evs map[string]sdk.Event, title string) (sdk.Event, bool) {
	for _, ev := range evs {
		if ev.Title == title {
			return ev, true
		}
	}
	return sdk.Event{}, false
}

func single(title string, start time.Time, d time.Duration) sdk.Event {
	return sdk.Event{Kind: sdk.KindSingle, Title: title, Start: start, End: start.Add(d), TimeZone: "Europe/Oslo",
		ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic}
}
