package m365

import (
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

func TestPreconditions(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	ev := e.create(tg, sdk.Event{Title: "v1", CorrelationID: "p", Start: t0.Add(24 * time.Hour)})
	// Someone edits it in Outlook: the stored version is stale now.
	e.graphDo("PATCH", "/users/user1@m365.test/events/"+ev.ID, map[string]any{"subject": "outlook"})
	stale := ev
	stale.Title = "v2"
	_, err := e.p.Update(e.ctx, tg, stale)
	mustErrIs(t, err, sdk.ErrPreconditionFailed)
	mustErrIs(t, e.p.Delete(e.ctx, tg, ev.ID, ev.Version), sdk.ErrPreconditionFailed)
	cur, err := e.p.Get(e.ctx, tg, ev.ID)
	if err != nil || cur.Title != "outlook" {
		t.Fatalf("after refused writes: %+v %v", cur, err)
	}
	upd := cur
	upd.Title = "v3"
	got, err := e.p.Update(e.ctx, tg, upd)
	if err != nil || got.Title != "v3" || got.Version == cur.Version || got.CorrelationID != "p" {
		t.Fatalf("update with the current version: %+v %v", got, err)
	}
	if err := e.p.Delete(e.ctx, tg, ev.ID, got.Version); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Delete(e.ctx, tg, ev.ID, got.Version); err != nil {
		t.Fatalf("deleting a deleted item: %v", err)
	}
	_, err = e.p.Get(e.ctx, tg, ev.ID)
	mustErrIs(t, err, sdk.ErrNotFound)
	_, err = e.p.Update(e.ctx, tg, upd)
	mustErrIs(t, err, sdk.ErrNotFound)
}

// dropFirstPost loses the answer of the first POST after the server acted on it.
type dropFirstPost struct {
	base    http.RoundTripper
	dropped atomic.Bool
}

func (d *dropFirstPost) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && d.dropped.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

// A create whose answer was lost is retried with the same transactionId, and Graph
// answers with the first item instead of a duplicate.
func TestCreateRetryIsNotDuplicated(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	e.p.transport = &dropFirstPost{base: http.DefaultTransport}
	if err := e.p.Configure(e.ctx, "acme", map[string]string{"endpoint": e.ts.URL}); err != nil {
		t.Fatal(err)
	}
	tg := e.target("user1@m365.test")
	got := e.create(tg, sdk.Event{Title: "once", CorrelationID: "dup", Start: t0.Add(24 * time.Hour)})
	found, err := e.p.FindByCorrelation(e.ctx, tg, "dup")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != got.ID {
		t.Fatalf("found %d items for the correlation id: %+v", len(found), found)
	}
	if st := e.srv.Stats(); st.Requests["POST /v1.0/users/{user}/calendar/events"] != 2 {
		t.Fatalf("POSTs: %v", st.Requests)
	}
}

func TestFindByCorrelation(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	e.create(tg, sdk.Event{Title: "x", CorrelationID: "it's 1", Start: t0.Add(24 * time.Hour)})
	m := e.create(tg, sdk.Event{Kind: sdk.KindMaster, Title: "series", CorrelationID: "s", TimeZone: "Europe/Berlin", Start: t0.Add(48 * time.Hour), Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=3"}})
	e.create(e.target("user2@m365.test"), sdk.Event{Title: "other mailbox", CorrelationID: "s", Start: t0.Add(24 * time.Hour)})
	for _, tc := range []struct {
		corr string
		want []string
	}{{"it's 1", []string{"x"}}, {"s", []string{"series"}}, {"none", nil}} {
		got, err := e.p.FindByCorrelation(e.ctx, tg, tc.corr)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(titles(got), tc.want) {
			t.Errorf("%q: %v, want %v", tc.corr, titles(got), tc.want)
		}
	}
	got, _ := e.p.FindByCorrelation(e.ctx, tg, "s")
	if len(got) == 1 && (got[0].ID != m.ID || len(got[0].Recurrence) != 1) {
		t.Errorf("series found as %+v", got[0])
	}
}

// Exceptions: made, changed and removed through the provider; a master update that
// keeps the pattern keeps them, one that changes it drops them (as Outlook does).
func TestExceptionLifecycle(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	start := time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC)
	m := e.create(tg, sdk.Event{Kind: sdk.KindMaster, Title: "weekly", CorrelationID: "m", TimeZone: "Europe/Berlin", Start: start, Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=6"}})
	orig := start.AddDate(0, 0, 7)
	x, err := e.p.Create(e.ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: orig, CorrelationID: "x1", Title: "moved", Start: orig.Add(time.Hour), End: orig.Add(2 * time.Hour), TimeZone: "Europe/Berlin", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	if err != nil {
		t.Fatal(err)
	}
	x.Title = "moved again"
	if x, err = e.p.Update(e.ctx, tg, x); err != nil || x.Title != "moved again" {
		t.Fatalf("update exception: %+v %v", x, err)
	}
	// The master changes its title: the exception stays.
	m, err = e.p.Get(e.ctx, tg, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	m.Title = "weekly (renamed)"
	if _, err := e.p.Update(e.ctx, tg, m); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Get(e.ctx, tg, x.ID); err != nil {
		t.Fatalf("exception lost by a title change: %v", err)
	}
	// Deleting the exception cancels that occurrence.
	if err := e.p.Delete(e.ctx, tg, x.ID, ""); err != nil {
		t.Fatal(err)
	}
	got, err := e.p.Get(e.ctx, tg, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE:20260324T080000Z"}
	if !slices.Equal(got.Recurrence, want) {
		t.Fatalf("recurrence %v, want %v", got.Recurrence, want)
	}
	// A new EXDATE through Update cancels one more.
	got.Recurrence = append(got.Recurrence, "EXDATE:20260331T070000Z")
	if got, err = e.p.Update(e.ctx, tg, got); err != nil {
		t.Fatal(err)
	}
	if len(got.Recurrence) != 3 {
		t.Fatalf("after adding an EXDATE: %v", got.Recurrence)
	}
	// Creating an exception for a cancelled occurrence is ErrNotFound.
	_, err = e.p.Create(e.ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: orig, Title: "zombie", Start: orig, End: orig.Add(time.Hour), TimeZone: "Europe/Berlin"})
	mustErrIs(t, err, sdk.ErrNotFound)
	if n := e.srv.Stats().MailsSent; n != 0 {
		t.Errorf("%d mails", n)
	}
}

// Meetings Exchange distributes are left to their organizer; a participant's answer
// travels without a mail.
func TestMeetingsAreNotMailed(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	st, out := e.graphDo("POST", "/users/user1@m365.test/calendar/events", map[string]any{
		"subject":   "Review",
		"start":     map[string]string{"dateTime": "2026-03-20T09:00:00", "timeZone": "UTC"},
		"end":       map[string]string{"dateTime": "2026-03-20T10:00:00", "timeZone": "UTC"},
		"attendees": []any{map[string]any{"type": "required", "emailAddress": map[string]string{"address": "user2@m365.test"}}},
	})
	if st != 201 {
		t.Fatal(out)
	}
	before := e.srv.Stats().MailsSent
	org := e.target("user1@m365.test")
	ev, err := e.p.Get(e.ctx, org, out["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	ev.Title = "Review (changed in CRM)"
	_, err = e.p.Update(e.ctx, org, ev)
	mustErrIs(t, err, sdk.ErrInvalidArgument)
	mustErrIs(t, e.p.Delete(e.ctx, org, ev.ID, ""), sdk.ErrInvalidArgument)

	att := e.target("user2@m365.test")
	copies, _, _, _ := e.round(att, "", e.window(), 0)
	if len(copies) != 1 {
		t.Fatalf("attendee copies: %v", titles(copies))
	}
	c := copies[0]
	c.Response = sdk.ResponseAccepted
	got, err := e.p.Update(e.ctx, att, c)
	if err != nil || got.Response != sdk.ResponseAccepted {
		t.Fatalf("accept: %+v %v", got, err)
	}
	if err := e.p.Delete(e.ctx, att, c.ID, ""); err != nil {
		t.Fatalf("attendee deletes its copy: %v", err)
	}
	if after := e.srv.Stats().MailsSent; after != before {
		t.Fatalf("sync made Exchange send %d mails", after-before)
	}
}

// Without a correlation id there is no transactionId, so a create whose answer was
// lost is not sent again: an error is better than a duplicate.
func TestCreateWithoutCorrelationIsNotRetried(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	e.p.transport = &dropFirstPost{base: http.DefaultTransport}
	if err := e.p.Configure(e.ctx, "acme", map[string]string{"endpoint": e.ts.URL}); err != nil {
		t.Fatal(err)
	}
	tg := e.target("user1@m365.test")
	if _, err := e.p.Create(e.ctx, tg, sdk.Event{Kind: sdk.KindSingle, Title: "anonymous", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}); err == nil {
		t.Fatal("a lost answer went unnoticed")
	}
	evs, _, _, _ := e.round(tg, "", e.window(), 0)
	if len(evs) != 1 {
		t.Fatalf("%d items after one create", len(evs))
	}
}
