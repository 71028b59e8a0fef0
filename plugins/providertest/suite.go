package providertest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// Run runs the conformance suite against h. Each check is a subtest; see the
// package doc.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Provider == nil || h.Instance == "" || h.NewTarget == nil {
		t.Fatal("providertest: the Harness needs Provider, Instance and NewTarget")
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Expect == nil {
		h.Expect = func(ev sdk.Event) sdk.Event { return ev }
	}
	if h.PageSize <= 0 {
		h.PageSize = 5
	}
	if h.PushWait <= 0 {
		h.PushWait = 10 * time.Second
	}
	s := &suite{h: h, root: t.Name()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Provider.Configure(ctx, h.Instance, h.Settings); err != nil {
		t.Fatalf("Configure(%s): %v", h.Instance, err)
	}
	checks := []struct {
		name string
		fn   func(t *testing.T)
		// local: the check asks only what a provider answers without its service.
		local bool
	}{
		{"Info", s.info, true},
		{"RoundTrip", s.roundTrip, false},
		{"Recurrence", s.recurrence, false},
		{"Paging", s.paging, false},
		{"Incremental", s.incremental, false},
		{"ExpiredCursor", s.expiredCursor, false},
		{"Precondition", s.precondition, false},
		{"NotFound", s.notFound, false},
		{"Correlation", s.correlation, false},
		{"Throttled", s.throttled, false},
		{"Unauthenticated", s.unauthenticated, false},
		{"BadResponses", s.badResponses, false},
		{"Push", s.push, false},
	}
	for _, c := range checks {
		if c.local {
			s.runLocal(t, c.name, c.fn)
		} else {
			s.run(t, c.name, c.fn)
		}
	}
}

type suite struct {
	h    Harness
	root string

	mu   sync.Mutex
	seq  int
	logs map[string]*sdk.RequestLog
}

// run runs one check that talks to the service as a subtest, honouring Skip, and
// checks that an HTTP provider reported the requests it made.
func (s *suite) run(t *testing.T, name string, fn func(t *testing.T)) {
	s.runCheck(t, name, true, fn)
}

// runLocal runs a check that needs no call to the service (Info): it honours
// Skip like run, but no request records are expected of it.
func (s *suite) runLocal(t *testing.T, name string, fn func(t *testing.T)) {
	s.runCheck(t, name, false, fn)
}

func (s *suite) runCheck(t *testing.T, name string, callsService bool, fn func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		path := strings.TrimPrefix(t.Name(), s.root+"/")
		if reason, ok := s.h.Skip[path]; ok {
			t.Skip(reason)
		}
		fn(t)
		if callsService && s.h.MakesHTTPRequests && !t.Skipped() && !t.Failed() && s.records(t) == 0 {
			t.Errorf("the provider reported no HTTP request records to the host (use sdk.InstrumentedTransport)")
		}
	})
}

// ctx is a call context for t: bounded, with a recorder counting t's requests.
func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return sdk.WithRecorder(ctx, s.log(t))
}

// log is the request log of t (a check or one of its subtests).
func (s *suite) log(t *testing.T) *sdk.RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		s.logs = map[string]*sdk.RequestLog{}
	}
	l, ok := s.logs[t.Name()]
	if !ok {
		l = &sdk.RequestLog{}
		s.logs[t.Name()] = l
	}
	return l
}

// records counts the request records reported for t and its subtests: a check
// whose calls are all made by its subtests counts theirs.
func (s *suite) records(t *testing.T) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for name, l := range s.logs {
		if name == t.Name() || strings.HasPrefix(name, t.Name()+"/") {
			n += len(l.Records())
		}
	}
	return n
}

func (s *suite) target(t *testing.T) sdk.Target {
	t.Helper()
	tg := s.h.NewTarget(t)
	if tg.Instance == "" {
		tg.Instance = s.h.Instance
	}
	return tg
}

// corr returns a correlation id unique to this run of t.
func (s *suite) corr(t *testing.T) string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("conformance-%08x-%d", h.Sum32(), n)
}

// window is the span every check lists: a month back, a bit more than a year ahead.
func (s *suite) window() sdk.Window {
	now := s.h.Now()
	return sdk.Window{Start: now.AddDate(0, 0, -30), End: now.AddDate(0, 0, 400)}
}

// day returns midnight UTC d days from now.
func (s *suite) day(d int) time.Time {
	n := s.h.Now().UTC()
	return time.Date(n.Year(), n.Month(), n.Day()+d, 0, 0, 0, 0, time.UTC)
}

// local returns hour:minute local time in zone, d days from now.
func (s *suite) local(t *testing.T, zone string, d, hour, minute int) time.Time {
	loc := mustZone(t, zone)
	n := s.h.Now().In(loc)
	return time.Date(n.Year(), n.Month(), n.Day()+d, hour, minute, 0, 0, loc)
}

func mustZone(t *testing.T, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatalf("time zone %s: %v", zone, err)
	}
	return loc
}

// ---- provider calls that fail the check on error ----

func (s *suite) create(t *testing.T, tg sdk.Target, ev sdk.Event) sdk.Event {
	t.Helper()
	got, err := s.h.Provider.Create(s.ctx(t), tg, ev)
	if err != nil {
		t.Fatalf("Create %q: %v", ev.Title, err)
	}
	if got.ID == "" || got.Version == "" {
		t.Fatalf("Create %q returned no id or version: %+v", ev.Title, got)
	}
	return got
}

func (s *suite) get(t *testing.T, tg sdk.Target, id string) sdk.Event {
	t.Helper()
	got, err := s.h.Provider.Get(s.ctx(t), tg, id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	if got.ID != id {
		t.Fatalf("Get %s returned item %s", id, got.ID)
	}
	return got
}

// round is one complete change round.
type round struct {
	events  []sdk.Event
	removed []string
	full    bool
	pages   int
	cursor  string
}

func (r round) byID() map[string]sdk.Event {
	m := make(map[string]sdk.Event, len(r.events))
	for _, ev := range r.events {
		m[ev.ID] = ev
	}
	return m
}

// readRound lists pages from cursor until More is clear.
func (s *suite) readRound(t *testing.T, tg sdk.Target, cursor string, pageSize int) round {
	t.Helper()
	var r round
	for r.pages < 1000 {
		ch, err := s.h.Provider.ListChanges(s.ctx(t), tg, sdk.ChangesRequest{Cursor: cursor, Window: s.window(), PageSize: pageSize})
		if err != nil {
			t.Fatalf("ListChanges page %d: %v", r.pages+1, err)
		}
		if r.pages == 0 {
			r.full = ch.Full
		} else if ch.Full != r.full {
			t.Errorf("page %d says Full=%v, the round began with Full=%v", r.pages+1, ch.Full, r.full)
		}
		r.pages++
		r.events = append(r.events, ch.Events...)
		r.removed = append(r.removed, ch.Removed...)
		if ch.Cursor == "" {
			t.Fatalf("ListChanges page %d returned no cursor", r.pages)
		}
		for _, ev := range ch.Events {
			if ev.ID == "" || ev.Version == "" {
				t.Errorf("listed an event without id or version: %+v", ev)
			}
			if ev.Kind == "" {
				t.Errorf("listed event %s has no Kind", ev.ID)
			}
		}
		cursor = ch.Cursor
		if !ch.More {
			r.cursor = cursor
			return r
		}
	}
	t.Fatal("ListChanges kept setting More for 1000 pages")
	return r
}

// put and remove change the calendar out of band.
func (s *suite) put(t *testing.T, tg sdk.Target, ev sdk.Event) sdk.Event {
	t.Helper()
	if s.h.OutOfBand != nil {
		return s.h.OutOfBand.Put(t, tg, ev)
	}
	if ev.ID == "" {
		return s.create(t, tg, ev)
	}
	ev.Version = ""
	got, err := s.h.Provider.Update(s.ctx(t), tg, ev)
	if err != nil {
		t.Fatalf("Update %s (standing in for a user's edit): %v", ev.ID, err)
	}
	return got
}

func (s *suite) remove(t *testing.T, tg sdk.Target, id string) {
	t.Helper()
	if s.h.OutOfBand != nil {
		s.h.OutOfBand.Remove(t, tg, id)
		return
	}
	if err := s.h.Provider.Delete(s.ctx(t), tg, id, ""); err != nil {
		t.Fatalf("Delete %s (standing in for a user's delete): %v", id, err)
	}
}

// ---- the checks ----

func (s *suite) info(t *testing.T) {
	info, err := s.h.Provider.Info(s.ctx(t))
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Name == "" {
		t.Error("Info names no plugin")
	}
	if info.ProtocolVersion != sdk.ProtocolVersion {
		t.Errorf("Info says protocol version %d, the host speaks %d", info.ProtocolVersion, sdk.ProtocolVersion)
	}
}

func mustBe(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}
