package m365

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

func (e *env) create(t sdk.Target, ev sdk.Event) sdk.Event {
	e.t.Helper()
	if ev.Kind == "" {
		ev.Kind = sdk.KindSingle
	}
	if ev.End.IsZero() {
		ev.End = ev.Start.Add(time.Hour)
	}
	if ev.ShowAs == "" {
		ev.ShowAs = sdk.ShowBusy
	}
	if ev.Privacy == "" {
		ev.Privacy = sdk.PrivacyPublic
	}
	got, err := e.p.Create(e.ctx, t, ev)
	if err != nil {
		e.t.Fatalf("create %q: %v", ev.Title, err)
	}
	return got
}

func titles(evs []sdk.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Title)
	}
	slices.Sort(out)
	return out
}

// An idle round costs one HTTP request; a change comes back alone, with its
// correlation id; a delete comes back as removed.
func TestIncrementalRounds(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	a := e.create(tg, sdk.Event{Title: "A", CorrelationID: "ca", Start: t0.Add(24 * time.Hour)})
	b := e.create(tg, sdk.Event{Title: "B", CorrelationID: "cb", Start: t0.Add(48 * time.Hour)})
	w := e.window()
	evs, _, full, cur := e.round(tg, "", w, 0)
	if !full || !slices.Equal(titles(evs), []string{"A", "B"}) {
		t.Fatalf("first round: full=%v %v", full, titles(evs))
	}

	n := e.requests()
	evs, removed, full, cur := e.round(tg, cur, w, 0)
	if len(evs)+len(removed) != 0 || full {
		t.Fatalf("idle round gave %v %v full=%v", titles(evs), removed, full)
	}
	if got := e.requests() - n; got != 1 {
		t.Errorf("idle round made %d requests, want 1", got)
	}

	// A user edits A in Outlook.
	if st, out := e.graphDo("PATCH", "/users/user1@m365.test/events/"+a.ID, map[string]any{"subject": "A2"}); st != 200 {
		t.Fatal(out)
	}
	evs, removed, _, cur = e.round(tg, cur, w, 0)
	if len(evs) != 1 || evs[0].Title != "A2" || evs[0].CorrelationID != "ca" || len(removed) != 0 {
		t.Fatalf("after an edit: %+v removed %v", evs, removed)
	}
	// And deletes B.
	if st, _ := e.graphDo("DELETE", "/users/user1@m365.test/events/"+b.ID, nil); st != 204 {
		t.Fatal(st)
	}
	evs, removed, _, cur = e.round(tg, cur, w, 0)
	if len(evs) != 0 || !slices.Equal(removed, []string{b.ID}) {
		t.Fatalf("after a delete: %v removed %v", titles(evs), removed)
	}
	// An edit that moves A far outside the window is reported by Graph as a removal.
	// A still exists: it is not removed, it is reported where it is now (outside the
	// window, so the host freezes it rather than keep the old times).
	if st, out := e.graphDo("PATCH", "/users/user1@m365.test/events/"+a.ID, map[string]any{
		"start": map[string]string{"dateTime": "2029-01-01T10:00:00", "timeZone": "UTC"},
		"end":   map[string]string{"dateTime": "2029-01-01T11:00:00", "timeZone": "UTC"},
	}); st != 200 {
		t.Fatal(out)
	}
	evs, removed, _, cur = e.round(tg, cur, w, 0)
	if len(evs) != 1 || evs[0].ID != a.ID || w.Contains(evs[0].Start, evs[0].End) || len(removed) != 0 {
		t.Fatalf("out-of-window move: events %+v removed %v", evs, removed)
	}
	// An item created far outside the window (also a "removal" to Graph) is not
	// reported as removed; as an unknown item outside the window the host ignores it.
	e.graphDo("POST", "/users/user1@m365.test/calendar/events", map[string]any{
		"subject": "far", "start": map[string]string{"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
		"end": map[string]string{"dateTime": "2030-01-01T11:00:00", "timeZone": "UTC"},
	})
	evs, removed, _, _ = e.round(tg, cur, w, 0)
	if len(removed) != 0 {
		t.Fatalf("a far-away create reported as removed: %v", removed)
	}
	if n := e.srv.Stats().MailsSent; n != 0 {
		t.Errorf("%d mails", n)
	}
}

// A series created in Outlook arrives in delta as occurrence stubs; the provider
// reports its master (with the subject, rule and cancelled occurrences) and its
// exceptions instead, once per round however many pages the stubs span.
func TestOccurrenceStubs(t *testing.T) {
	for _, masters := range []bool{false, true} {
		t.Run(fmt.Sprintf("delta lists masters: %v", masters), func(t *testing.T) {
			e := newEnv(t, graphtest.Options{DeltaIncludesMasters: masters})
			tg := e.target("user1@m365.test")
			w := e.window()
			_, _, _, cur := e.round(tg, "", w, 0)
			st, out := e.graphDo("POST", "/users/user1@m365.test/calendar/events", map[string]any{
				"subject": "Stand-up",
				"start":   map[string]string{"dateTime": "2026-03-17T09:00:00", "timeZone": "W. Europe Standard Time"},
				"end":     map[string]string{"dateTime": "2026-03-17T09:15:00", "timeZone": "W. Europe Standard Time"},
				"recurrence": map[string]any{
					"pattern": map[string]any{"type": "daily", "interval": 1},
					"range":   map[string]any{"type": "numbered", "startDate": "2026-03-17", "numberOfOccurrences": 30},
				},
			})
			if st != 201 {
				t.Fatal(out)
			}
			master := out["id"].(string)
			// Cancel the 5th occurrence and move the 6th in Outlook.
			inst := e.instanceIDs("user1@m365.test", master)
			if st, _ := e.graphDo("DELETE", "/users/user1@m365.test/events/"+inst[4], nil); st != 204 {
				t.Fatal(st)
			}
			if st, out := e.graphDo("PATCH", "/users/user1@m365.test/events/"+inst[5], map[string]any{"subject": "Stand-up (late)"}); st != 200 {
				t.Fatal(out)
			}
			evs, removed, _, _ := e.round(tg, cur, w, 10) // small pages: the stubs span three
			var got []string
			for _, ev := range evs {
				got = append(got, string(ev.Kind)+":"+ev.Title)
				if ev.Kind == sdk.KindMaster {
					want := []string{"RRULE:FREQ=DAILY;COUNT=30", "EXDATE:20260321T080000Z"}
					if !slices.Equal(ev.Recurrence, want) || ev.TimeZone != "Europe/Berlin" {
						t.Errorf("master %v tz %s, want %v", ev.Recurrence, ev.TimeZone, want)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, []string{"exception:Stand-up (late)", "master:Stand-up"}) {
				t.Fatalf("got %v (removed %v)", got, removed)
			}
			if slices.Contains(removed, master) {
				t.Errorf("the master reported removed")
			}
		})
	}
}

func (e *env) instanceIDs(account, master string) []string {
	st, out := e.graphDo("GET", "/users/"+account+"/events/"+master+"/instances?startDateTime=2026-01-01T00:00:00Z&endDateTime=2027-12-31T00:00:00Z&$top=1000&$select=id", nil)
	if st != 200 {
		e.t.Fatal(out)
	}
	var ids []string
	for _, v := range out["value"].([]any) {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	return ids
}

// As days pass the window slides: items entering it at the far end are reported,
// the token's own window is re-based without a full read, and nothing repeats.
func TestSlidingWindow(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	w := e.window()
	// One item just beyond the window's end, one 40 days beyond it (past the token's
	// margin), one inside.
	e.create(tg, sdk.Event{Title: "inside", CorrelationID: "in", Start: t0.Add(72 * time.Hour)})
	e.create(tg, sdk.Event{Title: "soon", CorrelationID: "soon", Start: w.End.Add(36 * time.Hour)})
	e.create(tg, sdk.Event{Title: "later", CorrelationID: "later", Start: w.End.AddDate(0, 0, 40)})
	evs, _, _, cur := e.round(tg, "", w, 0)
	if !slices.Equal(titles(evs), []string{"inside"}) {
		t.Fatalf("first round %v", titles(evs))
	}
	first, err := decodeCursor(cur, tg)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for day := 1; day <= 45; day++ {
		e.clk.Advance(24 * time.Hour)
		var removed []string
		var full bool
		evs, removed, full, cur = e.round(tg, cur, e.window(), 0)
		if full || len(removed) > 0 {
			t.Fatalf("day %d: full=%v removed=%v", day, full, removed)
		}
		for _, ev := range evs {
			seen[ev.Title]++
			if !e.window().Contains(ev.Start, ev.End) {
				t.Errorf("day %d: %s reported outside the window", day, ev.Title)
			}
			if (ev.Title == "soon" && day != 2) || (ev.Title == "later" && day != 41) {
				t.Errorf("day %d: %s entered on the wrong day", day, ev.Title)
			}
		}
	}
	if seen["soon"] != 1 || seen["later"] != 1 || seen["inside"] != 0 {
		t.Fatalf("reported %v", seen)
	}
	last, err := decodeCursor(cur, tg)
	if err != nil {
		t.Fatal(err)
	}
	if last.WE <= first.WE || last.Delta == first.Delta {
		t.Fatalf("the token was never re-based: window end %d -> %d", first.WE, last.WE)
	}
	// A change after the re-baseline still comes through the new token.
	_, out := e.graphDo("GET", "/users/user1@m365.test/calendar/events?$filter="+url.QueryEscape("subject eq 'later'"), nil)
	id := out["value"].([]any)[0].(map[string]any)["id"].(string)
	e.graphDo("PATCH", "/users/user1@m365.test/events/"+id, map[string]any{"subject": "later2"})
	evs, _, _, _ = e.round(tg, cur, e.window(), 0)
	if !slices.Equal(titles(evs), []string{"later2"}) {
		t.Fatalf("after re-baseline: %v", titles(evs))
	}
}

// Widening the window backwards lists the newly covered past once.
func TestWindowWidened(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	e.create(tg, sdk.Event{Title: "old", Start: t0.AddDate(0, 0, -50)})
	w := e.window()
	_, _, _, cur := e.round(tg, "", w, 0)
	w.Start = w.Start.AddDate(0, 0, -60)
	evs, _, _, cur := e.round(tg, cur, w, 0)
	if !slices.Equal(titles(evs), []string{"old"}) {
		t.Fatalf("widened: %v", titles(evs))
	}
	evs, _, _, _ = e.round(tg, cur, w, 0)
	if len(evs) != 0 {
		t.Fatalf("again: %v", titles(evs))
	}
}

// An expired delta token — between rounds or in the middle of one — is
// ErrFullSyncRequired; a full read afterwards re-lists everything.
func TestExpiredCursor(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	for i := 0; i < 25; i++ {
		e.create(tg, sdk.Event{Title: fmt.Sprintf("e%02d", i), CorrelationID: fmt.Sprint(i), Start: t0.Add(time.Duration(i+1) * time.Hour)})
	}
	w := e.window()
	_, _, _, cur := e.round(tg, "", w, 0)
	e.srv.ExpireCursors()
	_, err := e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Cursor: cur, Window: w})
	mustErrIs(t, err, sdk.ErrFullSyncRequired)

	// Mid-round: many changes, small pages, expiry after the first page.
	_, _, _, cur = e.round(tg, "", w, 0)
	_, out := e.graphDo("GET", "/users/user1@m365.test/calendar/events?$top=100&$select=id", nil)
	for _, v := range out["value"].([]any) {
		e.graphDo("PATCH", "/users/user1@m365.test/events/"+v.(map[string]any)["id"].(string), map[string]any{"categories": []string{"x"}})
	}
	ch, err := e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Cursor: cur, Window: w, PageSize: 10})
	if err != nil || !ch.More {
		t.Fatalf("first page: %v more=%v", err, ch.More)
	}
	e.srv.ExpireCursors()
	_, err = e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Cursor: ch.Cursor, Window: w, PageSize: 10})
	mustErrIs(t, err, sdk.ErrFullSyncRequired)
	evs, _, full, _ := e.round(tg, "", w, 10)
	if !full || len(evs) != 25 {
		t.Fatalf("full re-read: full=%v n=%d", full, len(evs))
	}
	// A cursor of another calendar or a damaged one is refused the same way.
	for _, bad := range []string{"garbage", cur[:len(cur)-5]} {
		_, err = e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Cursor: bad, Window: w})
		mustErrIs(t, err, sdk.ErrFullSyncRequired)
	}
	_, err = e.p.ListChanges(e.ctx, e.target("user2@m365.test"), sdk.ChangesRequest{Cursor: cur, Window: w})
	mustErrIs(t, err, sdk.ErrFullSyncRequired)
}

// Replayed items, empty pages, cut-off answers and throttling in the middle of a
// round do not lose or invent anything.
func TestFaultyService(t *testing.T) {
	e := newEnv(t, graphtest.Options{Seed: 7})
	tg := e.target("user1@m365.test")
	for i := 0; i < 40; i++ {
		e.create(tg, sdk.Event{Title: fmt.Sprintf("e%02d", i), CorrelationID: fmt.Sprint(i), Start: t0.Add(time.Duration(i+1) * 3 * time.Hour)})
	}
	w := e.window()
	_, _, _, cur := e.round(tg, "", w, 0)
	_, out := e.graphDo("GET", "/users/user1@m365.test/calendar/events?$top=100&$select=id,subject", nil)
	for _, v := range out["value"].([]any) {
		m := v.(map[string]any)
		e.graphDo("PATCH", "/users/user1@m365.test/events/"+m["id"].(string), map[string]any{"subject": m["subject"].(string) + "!"})
	}
	postFaults(t, e, `{"replay":0.5,"empty_pages":0.3,"throttle":0.1,"server_errors":0.05,"truncate_next":2}`)
	evs, removed, _, _ := e.round(tg, cur, w, 10)
	got := map[string]bool{}
	for _, ev := range evs {
		if ev.Title[len(ev.Title)-1] != '!' {
			t.Errorf("stale %s", ev.Title)
		}
		got[ev.Title] = true
	}
	if len(got) != 40 || len(removed) != 0 {
		t.Fatalf("got %d distinct changes, removed %v", len(got), removed)
	}
	e.mu.Lock()
	waited := len(e.waits)
	e.mu.Unlock()
	if waited == 0 {
		t.Error("no retry waited for Retry-After")
	}
}

func postFaults(t testing.TB, e *env, body string) {
	t.Helper()
	resp, err := httpPost(e.ts.URL+"/_emulator/faults", body)
	if err != nil || resp != 200 {
		t.Fatalf("faults: %d %v", resp, err)
	}
}

// A 401 in the middle of a round is ErrUnauthenticated, and the round resumes with
// the same cursor once the host has a fresh token.
func TestUnauthorizedMidRound(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	for i := 0; i < 15; i++ {
		e.create(tg, sdk.Event{Title: fmt.Sprint(i), Start: t0.Add(time.Duration(i+1) * time.Hour)})
	}
	w := e.window()
	ch, err := e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Window: w, PageSize: 10})
	for err == nil && ch.Full && len(ch.Events) == 0 && ch.More {
		ch, err = e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Cursor: ch.Cursor, Window: w, PageSize: 10})
	}
	if err != nil || !ch.More {
		t.Fatalf("first page: %v", err)
	}
	postFaults(t, e, `{"unauthorized_next":1}`)
	_, err = e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Cursor: ch.Cursor, Window: w, PageSize: 10})
	mustErrIs(t, err, sdk.ErrUnauthenticated)
	rest, _, _, _ := e.round(tg, ch.Cursor, w, 10)
	if len(ch.Events)+len(rest) != 15 {
		t.Fatalf("resumed round gave %d + %d items", len(ch.Events), len(rest))
	}
	if errors.Is(err, sdk.ErrThrottled) {
		t.Fatal("401 taken for throttling")
	}
}
