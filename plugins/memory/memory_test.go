package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

var (
	t0  = time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)
	win = sdk.Window{Start: t0.AddDate(0, 0, -30), End: t0.AddDate(0, 0, 60)}
)

func single(title string, start time.Time) sdk.Event {
	return sdk.Event{Kind: sdk.KindSingle, Title: title, Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Oslo"}
}

func target(account string) sdk.Target {
	return sdk.Target{Instance: "i1", Account: account}
}

// readAll reads one complete round and returns every event and removed id, the
// number of pages and the final cursor.
func readAll(t *testing.T, p *Provider, tg sdk.Target, cur string, size int) (evs []sdk.Event, removed []string, full bool, pages int, next string) {
	t.Helper()
	for range 1000 {
		ch, err := p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: cur, Window: win, PageSize: size})
		if err != nil {
			t.Fatalf("ListChanges page %d: %v", pages+1, err)
		}
		pages++
		evs = append(evs, ch.Events...)
		removed = append(removed, ch.Removed...)
		full = ch.Full
		cur = ch.Cursor
		if !ch.More {
			return evs, removed, full, pages, cur
		}
	}
	t.Fatal("ListChanges never stopped setting More")
	return
}

func ids(evs []sdk.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestPutAssignsIDsAndVersions(t *testing.T) {
	p := New()
	c := p.Calendar("i1", "jane")
	a := c.Put(single("a", t0))
	b := c.Put(single("b", t0))
	if a.ID != "mem-000001" || b.ID != "mem-000002" {
		t.Fatalf("ids = %q, %q; want mem-000001, mem-000002", a.ID, b.ID)
	}
	a2 := a
	a2.Title = "a edited"
	a2 = c.Put(a2)
	if a2.ID != a.ID || a2.Version == a.Version || a2.Version == b.Version {
		t.Fatalf("edit: id %q version %q (before %q, other %q)", a2.ID, a2.Version, a.Version, b.Version)
	}
	if got := ids(c.Events()); !slices.Equal(got, []string{a.ID, b.ID}) {
		t.Fatalf("Events ids = %v", got)
	}
	if !c.Remove(a.ID) || c.Remove(a.ID) {
		t.Fatal("Remove should report true once, then false")
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c.Len())
	}
	// Another account's calendar numbers its own ids.
	if o := p.Calendar("i1", "john").Put(single("x", t0)); o.ID != "mem-000001" {
		t.Fatalf("other calendar id = %q", o.ID)
	}
}

func TestFullReadPagesAndIncrementalChanges(t *testing.T) {
	ctx := context.Background()
	p := New()
	tg := target("jane")
	c := p.CalendarOf(tg)
	for i := range 7 {
		c.Put(single(fmt.Sprint("ev", i), t0.Add(time.Duration(i)*time.Hour)))
	}
	c.Put(single("far future", t0.AddDate(2, 0, 0)))

	evs, removed, full, pages, cur := readAll(t, p, tg, "", 3)
	if !full || pages != 3 || len(evs) != 7 || len(removed) != 0 {
		t.Fatalf("full read: full=%v pages=%d events=%d removed=%d; want true 3 7 0", full, pages, len(evs), len(removed))
	}

	// Nothing changed: an empty page.
	evs, removed, full, _, cur = readAll(t, p, tg, cur, 3)
	if full || len(evs) != 0 || len(removed) != 0 {
		t.Fatalf("no-change round: full=%v events=%v removed=%v", full, ids(evs), removed)
	}

	// A user edit, a user delete, and a write through the Provider interface.
	all := c.Events()
	edited := all[1]
	edited.Title = "edited"
	c.Put(edited)
	c.Remove(all[2].ID)
	created, err := p.Create(ctx, tg, single("created", t0.Add(24*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	evs, removed, full, _, _ = readAll(t, p, tg, cur, 1)
	if full {
		t.Fatal("incremental round says Full")
	}
	if got, want := ids(evs), []string{edited.ID, created.ID}; !slices.Equal(got, want) {
		t.Errorf("changed = %v, want %v", got, want)
	}
	if !slices.Equal(removed, []string{all[2].ID}) {
		t.Errorf("removed = %v, want [%s]", removed, all[2].ID)
	}
}

func TestWritesDuringFullRoundAreNotLost(t *testing.T) {
	p := New()
	tg := target("jane")
	c := p.CalendarOf(tg)
	for i := range 4 {
		c.Put(single(fmt.Sprint(i), t0))
	}
	ch, err := p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Window: win, PageSize: 2})
	if err != nil || !ch.More {
		t.Fatalf("first page: more=%v err=%v", ch.More, err)
	}
	// Edit an item already listed in this round.
	first := ch.Events[0]
	first.Title = "changed mid-round"
	c.Put(first)
	_, _, _, _, cur := readAll(t, p, tg, ch.Cursor, 2)
	evs, _, _, _, _ := readAll(t, p, tg, cur, 2)
	if len(evs) != 1 || evs[0].Title != "changed mid-round" {
		t.Fatalf("next round = %+v; want the mid-round edit", evs)
	}
}

func TestCursorsExpireAndRefuseGarbage(t *testing.T) {
	p := New()
	tg := target("jane")
	p.CalendarOf(tg).Put(single("a", t0))
	_, _, _, _, cur := readAll(t, p, tg, "", 10)
	_, _, _, _, other := readAll(t, p, target("john"), "", 10)

	tests := []struct {
		name   string
		cursor string
		expire bool
	}{
		{"garbage", "not a cursor", false},
		{"bad base64", cursorPrefix + "!!!", false},
		{"truncated", cur[:len(cur)-4], false},
		{"another calendar's", other, false},
		{"expired", cur, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.expire {
				p.ExpireCursors()
			}
			_, err := p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: tc.cursor, Window: win})
			if !errors.Is(err, sdk.ErrFullSyncRequired) {
				t.Fatalf("err = %v, want ErrFullSyncRequired", err)
			}
		})
	}
	// A full read after expiry works again.
	if evs, _, full, _, _ := readAll(t, p, tg, "", 10); !full || len(evs) != 1 {
		t.Fatalf("full read after expiry: full=%v events=%d", full, len(evs))
	}
}

func TestWindow(t *testing.T) {
	weekly := func(start time.Time, rule string) sdk.Event {
		return sdk.Event{Kind: sdk.KindMaster, Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Oslo", Recurrence: []string{rule}}
	}
	tests := []struct {
		name string
		ev   sdk.Event
		want bool
	}{
		{"single inside", single("", t0), true},
		{"single before", single("", win.Start.Add(-2*time.Hour)), false},
		{"single straddling start", single("", win.Start.Add(-30*time.Minute)), true},
		{"single at end", single("", win.End), false},
		{"series from long ago, endless", weekly(t0.AddDate(-3, 0, 0), "RRULE:FREQ=WEEKLY"), true},
		{"series ended before window", weekly(t0.AddDate(-3, 0, 0), "RRULE:FREQ=WEEKLY;COUNT=5"), false},
		{"series with UNTIL before window", weekly(t0.AddDate(-1, 0, 0), "RRULE:FREQ=DAILY;UNTIL=20240101T000000Z"), false},
		{"series starting after window", weekly(win.End.Add(time.Hour), "RRULE:FREQ=DAILY"), false},
		{"yearly series hitting the window", weekly(t0.AddDate(-5, 0, 10), "RRULE:FREQ=YEARLY"), true},
		{"unparseable rule counts as inside", weekly(t0.AddDate(-3, 0, 0), "RRULE:FREQ=SOMETIMES"), true},
		{"all-day inside", sdk.Event{AllDay: true, Start: time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 7, 0, 0, 0, 0, time.UTC)}, true},
		{"exception moved out, original inside", sdk.Event{Kind: sdk.KindException, SeriesID: "m", OriginalStart: t0, Start: t0.AddDate(1, 0, 0), End: t0.AddDate(1, 0, 0).Add(time.Hour)}, true},
		{"exception moved in, original outside", sdk.Event{Kind: sdk.KindException, SeriesID: "m", OriginalStart: t0.AddDate(1, 0, 0), Start: t0, End: t0.Add(time.Hour)}, true},
		{"exception fully outside", sdk.Event{Kind: sdk.KindException, SeriesID: "m", OriginalStart: t0.AddDate(1, 0, 0), Start: t0.AddDate(1, 0, 0), End: t0.AddDate(1, 0, 0).Add(time.Hour)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ev.Kind == "" {
				tc.ev.Kind = sdk.KindSingle
			}
			if got := inWindow(tc.ev, win); got != tc.want {
				t.Fatalf("inWindow = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPreconditions(t *testing.T) {
	ctx := context.Background()
	p := New()
	tg := target("jane")
	ev, err := p.Create(ctx, tg, single("a", t0))
	if err != nil {
		t.Fatal(err)
	}
	stale := ev.Version
	ev.Title = "b"
	ev, err = p.Update(ctx, tg, ev)
	if err != nil {
		t.Fatalf("update with current version: %v", err)
	}
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"update stale", func() error {
			e := ev
			e.Version = stale
			_, err := p.Update(ctx, tg, e)
			return err
		}, sdk.ErrPreconditionFailed},
		{"delete stale", func() error { return p.Delete(ctx, tg, ev.ID, stale) }, sdk.ErrPreconditionFailed},
		{"update missing", func() error {
			e := ev
			e.ID = "nope"
			_, err := p.Update(ctx, tg, e)
			return err
		}, sdk.ErrNotFound},
		{"get missing", func() error { _, err := p.Get(ctx, tg, "nope"); return err }, sdk.ErrNotFound},
		{"delete missing is fine", func() error { return p.Delete(ctx, tg, "nope", "v1") }, nil},
		{"exception of missing series", func() error {
			_, err := p.Create(ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: "nope", OriginalStart: t0, Start: t0, End: t0})
			return err
		}, sdk.ErrNotFound},
		{"end before start", func() error {
			_, err := p.Create(ctx, tg, sdk.Event{Start: t0, End: t0.Add(-time.Hour)})
			return err
		}, sdk.ErrInvalidArgument},
		{"bad zone", func() error {
			_, err := p.Create(ctx, tg, sdk.Event{Start: t0, End: t0, TimeZone: "Mars/Olympus"})
			return err
		}, sdk.ErrInvalidArgument},
		{"delete current", func() error { return p.Delete(ctx, tg, ev.ID, ev.Version) }, nil},
	}
	for _, tc := range tests {
		if err := tc.op(); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := p.Get(ctx, tg, ev.ID); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("after delete: Get err = %v", err)
	}
}

func TestSeriesCascade(t *testing.T) {
	ctx := context.Background()
	p := New()
	tg := target("jane")
	m, err := p.Create(ctx, tg, sdk.Event{Kind: sdk.KindMaster, Start: t0, End: t0.Add(time.Hour), Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=5"}})
	if err != nil {
		t.Fatal(err)
	}
	orig := t0.AddDate(0, 0, 7)
	x, err := p.Create(ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: orig, Start: orig.Add(time.Hour), End: orig.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if x.ID != exceptionID(m.ID, orig) {
		t.Fatalf("exception id = %q", x.ID)
	}
	_, _, _, _, cur := readAll(t, p, tg, "", 10)
	if err := p.Delete(ctx, tg, x.ID, ""); err != nil {
		t.Fatal(err)
	}
	m2, err := p.Get(ctx, tg, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE:20240513T070000Z"}; !slices.Equal(m2.Recurrence, want) {
		t.Fatalf("master recurrence = %q, want %q", m2.Recurrence, want)
	}
	evs, removed, _, _, _ := readAll(t, p, tg, cur, 10)
	if !slices.Equal(ids(evs), []string{m.ID}) || !slices.Equal(removed, []string{x.ID}) {
		t.Fatalf("changes after cancelling: events %v removed %v", ids(evs), removed)
	}

	// Deleting the master takes a (new) exception along.
	x2, err := p.Create(ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: t0, Start: t0, End: t0.Add(time.Hour), Title: "moved"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, tg, m.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, tg, x2.ID); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("exception after master delete: %v", err)
	}
}

func TestFindByCorrelationAndUpdateKeepsIt(t *testing.T) {
	ctx := context.Background()
	p := New()
	tg := target("jane")
	ev := single("a", t0)
	ev.CorrelationID = "corr-1"
	created, err := p.Create(ctx, tg, ev)
	if err != nil {
		t.Fatal(err)
	}
	p.CalendarOf(tg).Put(single("other", t0))
	created.CorrelationID = ""
	created.Title = "renamed"
	if _, err := p.Update(ctx, tg, created); err != nil {
		t.Fatal(err)
	}
	found, err := p.FindByCorrelation(ctx, tg, "corr-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != created.ID || found[0].Title != "renamed" {
		t.Fatalf("found = %+v", found)
	}
	if found, _ := p.FindByCorrelation(ctx, target("john"), "corr-1"); len(found) != 0 {
		t.Fatalf("found in another calendar: %+v", found)
	}
}

func TestHook(t *testing.T) {
	ctx := context.Background()
	p := New()
	tg := target("jane")
	lost := errors.New("response lost")
	var calls []string
	p.SetHook(func(_ context.Context, op string, _ sdk.Target, phase string) error {
		calls = append(calls, op+"/"+phase)
		switch {
		case op == "Create" && phase == "after":
			return lost
		case op == "Get" && phase == "before":
			return &sdk.ThrottledError{RetryAfter: 3 * time.Second}
		}
		return nil
	})
	if _, err := p.Create(ctx, tg, single("a", t0)); !errors.Is(err, lost) {
		t.Fatalf("Create err = %v, want the lost response", err)
	}
	if n := p.CalendarOf(tg).Len(); n != 1 {
		t.Fatalf("after a lost response the create must have happened: %d items", n)
	}
	_, err := p.Get(ctx, tg, "mem-000001")
	if d, ok := sdk.RetryAfter(err); !ok || d != 3*time.Second {
		t.Fatalf("Get err = %v, want throttled 3s", err)
	}
	want := []string{"Create/before", "Create/after", "Get/before"}
	if !slices.Equal(calls, want) {
		t.Fatalf("hook calls = %v, want %v", calls, want)
	}
	p.SetHook(nil)
	if _, err := p.Get(ctx, tg, "mem-000001"); err != nil {
		t.Fatalf("Get without hook: %v", err)
	}
}

func TestRequireToken(t *testing.T) {
	ctx := context.Background()
	p := New()
	p.RequireToken("*", "good")
	tg := target("jane")
	tg.Credential = sdk.Credential{Type: "bearer", Token: "bad"}
	if _, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Window: win}); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("bad token: %v", err)
	}
	tg.Credential.Token = "good"
	if _, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Window: win}); err != nil {
		t.Fatalf("good token: %v", err)
	}
	if _, err := p.Info(ctx); err != nil {
		t.Fatalf("Info needs no token: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	p := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Create(ctx, target("jane"), single("a", t0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if p.Calendar("i1", "jane").Len() != 0 {
		t.Fatal("a cancelled create wrote")
	}
}

func TestConfigureAndLicenses(t *testing.T) {
	ctx := context.Background()
	p := New()
	if _, err := p.Licenses(ctx, target("")); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("unset licences: %v", err)
	}
	if err := p.Configure(ctx, "i1", map[string]string{"user_licenses": "many"}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("bad user_licenses: %v", err)
	}
	if err := p.Configure(ctx, "i1", map[string]string{"user_licenses": "50", "x": "y"}); err != nil {
		t.Fatal(err)
	}
	if l, err := p.Licenses(ctx, target("")); err != nil || l.UserLicenses != 50 {
		t.Fatalf("licences = %+v, %v", l, err)
	}
	if s := p.Settings("i1"); s["x"] != "y" {
		t.Fatalf("settings = %v", s)
	}
	p.AddAccount("i1", sdk.Account{ID: "17", Name: "JANE", Email: "jane@example.test", Kind: sdk.AccountUser})
	a, err := p.LookupAccount(ctx, target(""), sdk.AccountUser, "JANE")
	if err != nil || a.ID != "17" {
		t.Fatalf("lookup = %+v, %v", a, err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	p := New()
	tg := target("jane")
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := p.Create(ctx, tg, single(fmt.Sprint(w, "-", i), t0)); err != nil {
					errs <- err
				}
				if _, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Window: win, PageSize: 5}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	evs, _, _, _, _ := readAll(t, p, tg, "", 7)
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.ID] {
			t.Fatalf("duplicate id %s", e.ID)
		}
		seen[e.ID] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d items, want %d", len(seen), writers*each)
	}
}

func TestFaultSettings(t *testing.T) {
	ctx := context.Background()
	p := New()
	tg := target("jane")
	settings := map[string]string{"token": "t1", "throttle_next": "2", "throttle_retry_after": "5s"}
	if err := p.Configure(ctx, "i1", settings); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, tg, "x"); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("without the token: %v", err)
	}
	tg.Credential.Token = "t1"
	for i := range 2 {
		if d, ok := sdk.RetryAfter(func() error { _, err := p.Get(ctx, tg, "x"); return err }()); !ok || d != 5*time.Second {
			t.Fatalf("call %d: throttle = %v, %v", i, d, ok)
		}
	}
	if _, err := p.Get(ctx, tg, "x"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("after the throttled calls: %v", err)
	}

	_, _, _, _, cur := readAll(t, p, tg, "", 10)
	if err := p.Configure(ctx, "i1", map[string]string{"token": "t1", "expire_cursors": "true", "delay": "1h"}); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.ListChanges(dctx, tg, sdk.ChangesRequest{Cursor: cur, Window: win}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed call: %v", err)
	}
	if err := p.Configure(ctx, "i1", map[string]string{"token": "t1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Cursor: cur, Window: win}); !errors.Is(err, sdk.ErrFullSyncRequired) {
		t.Fatalf("expired cursor: %v", err)
	}
	for _, bad := range []map[string]string{{"delay": "soon"}, {"throttle_next": "-1"}, {"throttle_retry_after": "x"}} {
		if err := p.Configure(ctx, "i1", bad); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Configure(%v) = %v", bad, err)
		}
	}
}
