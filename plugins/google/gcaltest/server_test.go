package gcaltest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// fixture is an emulator behind a loopback listener with two users (user2 is an
// admin) and one room.
type fixture struct {
	t   *testing.T
	s   *Server
	srv *httptest.Server
	now time.Time
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, now: time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = func() time.Time { return f.now }
	}
	f.s = New(opts)
	f.srv = httptest.NewServer(f.s)
	t.Cleanup(func() { f.srv.Close(); f.s.Close() })
	for _, u := range []User{{Email: UserEmail(1), Name: "User One"}, {Email: UserEmail(2), Name: "User Two", Admin: true}} {
		if err := f.s.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.AddResource(Resource{Email: ResourceEmail(1), Name: "Room 1", Capacity: 8}); err != nil {
		t.Fatal(err)
	}
	return f
}

type bearer struct {
	tok  string
	base http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return b.base.RoundTrip(r)
}

func (f *fixture) client(tok string) *http.Client {
	return &http.Client{Transport: bearer{tok: tok, base: http.DefaultTransport}}
}

// svc is Google's own client pointed at the emulator.
func (f *fixture) svc(tok string) *gcal.Service {
	f.t.Helper()
	s, err := gcal.NewService(context.Background(), option.WithEndpoint(f.srv.URL+"/calendar/v3/"),
		option.WithHTTPClient(f.client(tok)))
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) userToken(email string) string {
	f.t.Helper()
	tok, err := f.s.TokenFor(email)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// raw sends one request and decodes the JSON answer (if any).
func (f *fixture) raw(tok, method, path string, body any, hdr map[string]string) (int, http.Header, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		_ = json.Unmarshal(b, &m)
	}
	return resp.StatusCode, resp.Header, m
}

func reason(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	errs, _ := e["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	return errs[0].(map[string]any)["reason"].(string)
}

func gReason(err error) (int, string) {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return 0, ""
	}
	if len(ge.Errors) > 0 {
		return ge.Code, ge.Errors[0].Reason
	}
	return ge.Code, ""
}

func timed(summary, start, end string) *gcal.Event {
	return &gcal.Event{Summary: summary,
		Start: &gcal.EventDateTime{DateTime: start, TimeZone: "Europe/Oslo"},
		End:   &gcal.EventDateTime{DateTime: end, TimeZone: "Europe/Oslo"}}
}

func TestEventLifecycleStatusCodes(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.userToken(UserEmail(1))
	cal := "/calendar/v3/calendars/" + url.PathEscape(UserEmail(1)) + "/events"

	// insert answers 200, not 201, with a client-chosen id.
	code, _, ev := f.raw(tok, "POST", cal+"?sendUpdates=none", map[string]any{"id": "abcdef0123",
		"summary": "A", "start": map[string]string{"dateTime": "2024-05-07T09:00:00+02:00"},
		"end": map[string]string{"dateTime": "2024-05-07T10:00:00+02:00"}}, nil)
	if code != 200 || ev["id"] != "abcdef0123" || ev["kind"] != "calendar#event" || ev["status"] != "confirmed" {
		t.Fatalf("insert: %d %v", code, ev)
	}
	etag := ev["etag"].(string)
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("etag %q is not a quoted string", etag)
	}
	cases := []struct {
		name         string
		method, path string
		body         any
		hdr          map[string]string
		code         int
		reason       string
	}{
		{"duplicate id", "POST", cal, map[string]any{"id": "abcdef0123", "summary": "B",
			"start": map[string]string{"date": "2024-05-07"}, "end": map[string]string{"date": "2024-05-08"}}, nil, 409, "duplicate"},
		{"id with invalid characters", "POST", cal, map[string]any{"id": "ABC_xyz12", "start": map[string]string{"date": "2024-05-07"},
			"end": map[string]string{"date": "2024-05-08"}}, nil, 400, "invalid"},
		{"id too short", "POST", cal, map[string]any{"id": "abc", "start": map[string]string{"date": "2024-05-07"},
			"end": map[string]string{"date": "2024-05-08"}}, nil, 400, "invalid"},
		{"end before start", "POST", cal, map[string]any{"start": map[string]string{"date": "2024-05-07"},
			"end": map[string]string{"date": "2024-05-06"}}, nil, 400, "timeRangeEmpty"},
		{"recurring without timeZone", "POST", cal, map[string]any{"recurrence": []string{"RRULE:FREQ=DAILY"},
			"start": map[string]string{"dateTime": "2024-05-07T09:00:00Z"}, "end": map[string]string{"dateTime": "2024-05-07T10:00:00Z"}},
			nil, 400, "invalid"},
		{"unknown body field", "POST", cal, map[string]any{"subject": "x"}, nil, 400, "invalid"},
		{"unknown query parameter", "GET", cal + "?colour=red", nil, nil, 400, "invalid"},
		{"stale If-Match", "PATCH", cal + "/abcdef0123", map[string]any{"summary": "C"}, map[string]string{"If-Match": `"1"`}, 412, "conditionNotMet"},
		{"missing event", "GET", cal + "/nosuchevent", nil, nil, 404, "notFound"},
		{"no token", "GET", cal, nil, map[string]string{"Authorization": ""}, 401, "required"},
		{"bad token", "GET", cal, nil, map[string]string{"Authorization": "Bearer nope"}, 401, "authError"},
		{"other user's calendar", "GET", "/calendar/v3/calendars/" + url.PathEscape(UserEmail(2)) + "/events", nil, nil, 404, "notFound"},
		{"orderBy startTime without singleEvents", "GET", cal + "?orderBy=startTime", nil, nil, 400, "invalid"},
		{"timeMin after timeMax", "GET", cal + "?timeMin=2024-05-08T00:00:00Z&timeMax=2024-05-07T00:00:00Z", nil, nil, 400, "timeRangeEmpty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, m := f.raw(tok, tc.method, tc.path, tc.body, tc.hdr)
			if code != tc.code || reason(m) != tc.reason {
				t.Fatalf("got %d %q, want %d %q: %v", code, reason(m), tc.code, tc.reason, m)
			}
		})
	}
	// If-None-Match with the current etag: 304.
	if code, _, _ := f.raw(tok, "GET", cal+"/abcdef0123", nil, map[string]string{"If-None-Match": etag}); code != 304 {
		t.Fatalf("If-None-Match: %d", code)
	}
	// PATCH with the right etag: 200 and a new etag.
	code, _, ev = f.raw(tok, "PATCH", cal+"/abcdef0123", map[string]any{"summary": "C"}, map[string]string{"If-Match": etag})
	if code != 200 || ev["etag"] == etag || ev["summary"] != "C" {
		t.Fatalf("patch: %d %v", code, ev)
	}
	// DELETE answers 204, a second one 410 deleted; GET still returns the cancelled event.
	if code, _, _ := f.raw(tok, "DELETE", cal+"/abcdef0123", nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _, m := f.raw(tok, "DELETE", cal+"/abcdef0123", nil, nil); code != 410 || reason(m) != "deleted" {
		t.Fatalf("second delete: %d %v", code, m)
	}
	if code, _, m := f.raw(tok, "GET", cal+"/abcdef0123", nil, nil); code != 200 || m["status"] != "cancelled" {
		t.Fatalf("get cancelled: %d %v", code, m)
	}
}

func TestSequenceGrowsWhenTimeChanges(t *testing.T) {
	f := newFixture(t, Options{})
	svc := f.svc(f.userToken(UserEmail(1)))
	ev, err := svc.Events.Insert(UserEmail(1), timed("S", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")).Do()
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := svc.Events.Patch(UserEmail(1), ev.Id, &gcal.Event{Summary: "T"}).Do()
	if err != nil || ev2.Sequence != ev.Sequence {
		t.Fatalf("title change moved sequence: %v %d -> %d", err, ev.Sequence, ev2.Sequence)
	}
	ev3, err := svc.Events.Patch(UserEmail(1), ev.Id, &gcal.Event{
		Start: &gcal.EventDateTime{DateTime: "2024-05-07T11:00:00+02:00"},
		End:   &gcal.EventDateTime{DateTime: "2024-05-07T12:00:00+02:00"}}).Do()
	if err != nil || ev3.Sequence != ev.Sequence+1 {
		t.Fatalf("time change: %v sequence %d", err, ev3.Sequence)
	}
}

func TestSyncTokensCoverTheWholeCalendar(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.userToken(UserEmail(1))
	svc := f.svc(tok)
	cal := UserEmail(1)
	in, err := svc.Events.Insert(cal, timed("in window", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")).Do()
	if err != nil {
		t.Fatal(err)
	}
	out, err := svc.Events.Insert(cal, timed("far future", "2026-05-07T09:00:00+02:00", "2026-05-07T10:00:00+02:00")).Do()
	if err != nil {
		t.Fatal(err)
	}
	// A full read bounded by a window gives one item and a sync token.
	list, err := svc.Events.List(cal).TimeMin("2024-05-01T00:00:00Z").TimeMax("2024-06-01T00:00:00Z").ShowDeleted(true).Do()
	if err != nil || len(list.Items) != 1 || list.NextSyncToken == "" || list.NextPageToken != "" {
		t.Fatalf("full read: %v %+v", err, list)
	}
	token := list.NextSyncToken
	// A token answers nothing when nothing changed.
	inc, err := svc.Events.List(cal).SyncToken(token).ShowDeleted(true).Do()
	if err != nil || len(inc.Items) != 0 || inc.NextSyncToken == "" {
		t.Fatalf("no-change read: %v %+v", err, inc)
	}
	// Changes outside the first window come back too: the token covers the calendar.
	if _, err := svc.Events.Patch(cal, out.Id, &gcal.Event{Summary: "changed"}).Do(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Events.Delete(cal, in.Id).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	inc, err = svc.Events.List(cal).SyncToken(token).ShowDeleted(true).Do()
	if err != nil || len(inc.Items) != 2 {
		t.Fatalf("incremental: %v %+v", err, inc)
	}
	// The deletion is a stub carrying the id only.
	code, _, m := f.raw(tok, "GET", "/calendar/v3/calendars/"+url.PathEscape(cal)+"/events?syncToken="+url.QueryEscape(token), nil, nil)
	if code != 200 {
		t.Fatal(code, m)
	}
	for _, it := range m["items"].([]any) {
		item := it.(map[string]any)
		if item["id"] == in.Id {
			for k := range item {
				if k != "id" && k != "status" && k != "kind" && k != "etag" {
					t.Errorf("deletion stub carries %q", k)
				}
			}
			if item["status"] != "cancelled" {
				t.Errorf("stub status %v", item["status"])
			}
		}
	}
	// Parameters that cannot go with a sync token.
	for _, p := range []string{"timeMin=2024-05-01T00:00:00Z", "timeMax=2024-05-01T00:00:00Z", "q=x", "orderBy=updated",
		"iCalUID=x", "privateExtendedProperty=a%3Db", "sharedExtendedProperty=a%3Db", "updatedMin=2024-05-01T00:00:00Z", "showDeleted=false"} {
		code, _, m := f.raw(tok, "GET", "/calendar/v3/calendars/"+url.PathEscape(cal)+"/events?syncToken="+url.QueryEscape(token)+"&"+p, nil, nil)
		if code != 400 {
			t.Errorf("syncToken with %s: %d %v", p, code, m)
		}
	}
	// Expiry: 410 fullSyncRequired in Google's exact envelope.
	code, _, _ = f.raw("", "POST", "/_emulator/faults", map[string]any{"expire_cursors": true}, nil)
	if code != 200 {
		t.Fatal(code)
	}
	_, err = svc.Events.List(cal).SyncToken(inc.NextSyncToken).ShowDeleted(true).Do()
	if c, r := gReason(err); c != 410 || r != "fullSyncRequired" {
		t.Fatalf("expired token: %v", err)
	}
	code, _, m = f.raw(tok, "GET", "/calendar/v3/calendars/"+url.PathEscape(cal)+"/events?syncToken="+url.QueryEscape(token), nil, nil)
	want := `{"error":{"code":410,"errors":[{"domain":"calendar","location":"syncToken","locationType":"parameter","message":"Sync token is no longer valid, a full sync is required.","reason":"fullSyncRequired"}],"message":"Sync token is no longer valid, a full sync is required."}}`
	got, _ := json.Marshal(m)
	if code != 410 || string(got) != want {
		t.Fatalf("envelope:\n got %s\nwant %s", got, want)
	}
	// A garbage token is also 410.
	_, err = svc.Events.List(cal).SyncToken("garbage").Do()
	if c, _ := gReason(err); c != 410 {
		t.Fatalf("garbage token: %v", err)
	}
}

func TestPagingAndShortPages(t *testing.T) {
	f := newFixture(t, Options{Seed: 7})
	if err := f.s.SeedEvents(UserEmail(1), 600, 1); err != nil {
		t.Fatal(err)
	}
	svc := f.svc(f.userToken(UserEmail(1)))
	for _, short := range []bool{false, true} {
		if short {
			f.s.SetFaults(Faults{ShortPages: true})
		}
		seen := map[string]bool{}
		pages := 0
		call := svc.Events.List(UserEmail(1)).MaxResults(250)
		var last *gcal.Events
		for pt := ""; ; pages++ {
			if pages > 1000 {
				t.Fatal("paging does not end")
			}
			res, err := call.PageToken(pt).Do()
			if err != nil {
				t.Fatal(err)
			}
			if res.NextPageToken != "" && res.NextSyncToken != "" {
				t.Fatal("a page has both nextPageToken and nextSyncToken")
			}
			for _, it := range res.Items {
				if seen[it.Id] {
					t.Fatalf("item %s served twice", it.Id)
				}
				seen[it.Id] = true
			}
			last = res
			if res.NextPageToken == "" {
				break
			}
			pt = res.NextPageToken
		}
		// 600 stored items: 599 live ones plus the cancelled occurrence (listed because singleEvents is false).
		if len(seen) != 600 || last.NextSyncToken == "" {
			t.Fatalf("short=%v: %d items, last page sync token %q", short, len(seen), last.NextSyncToken)
		}
		if !short && pages != 2 {
			t.Fatalf("want 3 pages of 250, got %d+1", pages)
		}
	}
	// maxResults above 2500 is capped, below 1 refused.
	res, err := svc.Events.List(UserEmail(1)).MaxResults(5000).Do()
	if err != nil || len(res.Items) > 2500 {
		t.Fatalf("cap: %v", err)
	}
	if code, _, _ := f.raw(f.userToken(UserEmail(1)), "GET", "/calendar/v3/calendars/primary/events?maxResults=0", nil, nil); code != 400 {
		t.Fatalf("maxResults=0: %d", code)
	}
}

func TestRecurrenceInstancesAndExceptions(t *testing.T) {
	f := newFixture(t, Options{})
	svc := f.svc(f.userToken(UserEmail(1)))
	cal := UserEmail(1)
	m := timed("Weekly", "2024-03-25T09:00:00+01:00", "2024-03-25T10:00:00+01:00")
	m.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=4"}
	m, err := svc.Events.Insert(cal, m).SendUpdates("none").Do()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := svc.Events.Instances(cal, m.Id).Do()
	if err != nil || len(inst.Items) != 4 {
		t.Fatalf("instances: %v %d", err, len(inst.Items))
	}
	// Across the DST change the wall clock stays at 09:00 Oslo: 08:00Z then 07:00Z.
	want := []string{m.Id + "_20240325T080000Z", m.Id + "_20240401T070000Z", m.Id + "_20240408T070000Z", m.Id + "_20240415T070000Z"}
	for i, it := range inst.Items {
		if it.Id != want[i] || it.RecurringEventId != m.Id || it.OriginalStartTime == nil {
			t.Fatalf("instance %d: %+v", i, it)
		}
	}
	// Move the second occurrence, cancel the third.
	moved, err := svc.Events.Patch(cal, want[1], &gcal.Event{Summary: "Moved",
		Start: &gcal.EventDateTime{DateTime: "2024-04-01T13:00:00+02:00"},
		End:   &gcal.EventDateTime{DateTime: "2024-04-01T14:00:00+02:00"}}).Do()
	if err != nil || moved.RecurringEventId != m.Id || moved.OriginalStartTime.DateTime == "" {
		t.Fatalf("move: %v %+v", err, moved)
	}
	if err := svc.Events.Delete(cal, want[2]).Do(); err != nil {
		t.Fatal(err)
	}
	single, err := svc.Events.List(cal).SingleEvents(true).OrderBy("startTime").Do()
	if err != nil || len(single.Items) != 3 || single.Items[1].Summary != "Moved" {
		for _, it := range single.Items {
			t.Logf("%s %s %s %s", it.Id, it.Status, it.Summary, it.Start.DateTime)
		}
		t.Fatalf("singleEvents: %v", err)
	}
	// Without singleEvents: master, exception, and the cancelled occurrence as a stub
	// with recurringEventId and originalStartTime (even without showDeleted).
	all, err := svc.Events.List(cal).Do()
	if err != nil || len(all.Items) != 3 {
		t.Fatalf("list: %v %d", err, len(all.Items))
	}
	var stubs int
	for _, it := range all.Items {
		if it.Status == "cancelled" {
			stubs++
			if it.Id != want[2] || it.RecurringEventId != m.Id || it.OriginalStartTime == nil || it.Summary != "" {
				t.Fatalf("cancelled occurrence: %+v", it)
			}
		}
	}
	if stubs != 1 {
		t.Fatalf("want one cancelled occurrence, got %d", stubs)
	}
	// Deleting the master removes the series.
	if err := svc.Events.Delete(cal, m.Id).Do(); err != nil {
		t.Fatal(err)
	}
	after, err := svc.Events.List(cal).SingleEvents(true).Do()
	if err != nil || len(after.Items) != 0 {
		t.Fatalf("after master delete: %v %d", err, len(after.Items))
	}
}

func TestAllDayAndTimeZoneRendering(t *testing.T) {
	f := newFixture(t, Options{})
	svc := f.svc(f.userToken(UserEmail(1)))
	ad, err := svc.Events.Insert(UserEmail(1), &gcal.Event{Summary: "Holiday",
		Start: &gcal.EventDateTime{Date: "2024-03-30"}, End: &gcal.EventDateTime{Date: "2024-04-02"}}).Do()
	if err != nil || ad.Start.Date != "2024-03-30" || ad.End.Date != "2024-04-02" || ad.Start.DateTime != "" {
		t.Fatalf("all-day: %v %+v", err, ad)
	}
	ev, err := svc.Events.Insert(UserEmail(1), timed("T", "2024-05-07T07:00:00Z", "2024-05-07T08:00:00Z")).Do()
	if err != nil || ev.Start.DateTime != "2024-05-07T09:00:00+02:00" {
		t.Fatalf("rendered in the event zone: %v %+v", err, ev.Start)
	}
	got, err := svc.Events.Get(UserEmail(1), ev.Id).TimeZone("America/New_York").Do()
	if err != nil || got.Start.DateTime != "2024-05-07T03:00:00-04:00" {
		t.Fatalf("timeZone parameter: %v %+v", err, got.Start)
	}
	// timeMin is an exclusive bound on the end, timeMax on the start.
	list, err := svc.Events.List(UserEmail(1)).TimeMin("2024-05-07T08:00:00Z").Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range list.Items {
		if it.Id == ev.Id {
			t.Fatal("event ending at timeMin listed")
		}
	}
}

func TestExtendedProperties(t *testing.T) {
	f := newFixture(t, Options{})
	svc := f.svc(f.userToken(UserEmail(1)))
	cal := UserEmail(1)
	ev := timed("X", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")
	ev.ExtendedProperties = &gcal.EventExtendedProperties{Private: map[string]string{"syncId": "c-1", "keep": "k"}}
	ev, err := svc.Events.Insert(cal, ev).Do()
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.Events.Insert(cal, timed("Y", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")).Do()
	if err != nil {
		t.Fatal(err)
	}
	found, err := svc.Events.List(cal).PrivateExtendedProperty("syncId=c-1").Do()
	if err != nil || len(found.Items) != 1 || found.Items[0].Id != ev.Id {
		t.Fatalf("filter: %v %+v", err, found)
	}
	// PATCH merges per key; null deletes one key.
	tok := f.userToken(cal)
	code, _, m := f.raw(tok, "PATCH", "/calendar/v3/calendars/"+url.PathEscape(cal)+"/events/"+ev.Id,
		map[string]any{"extendedProperties": map[string]any{"private": map[string]any{"keep": nil, "new": "n"}}}, nil)
	priv := m["extendedProperties"].(map[string]any)["private"].(map[string]any)
	if code != 200 || priv["syncId"] != "c-1" || priv["new"] != "n" || priv["keep"] != nil {
		t.Fatalf("merge: %d %v", code, priv)
	}
	// PUT without the properties drops them.
	put, err := svc.Events.Update(cal, ev.Id, timed("X2", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")).Do()
	if err != nil || put.ExtendedProperties != nil {
		t.Fatalf("put: %v %+v", err, put.ExtendedProperties)
	}
	found, err = svc.Events.List(cal).PrivateExtendedProperty("syncId=c-1").Do()
	if err != nil || len(found.Items) != 0 {
		t.Fatalf("after put: %v %d", err, len(found.Items))
	}
	_ = other
}

func TestMeetingsCopiesResourcesAndMails(t *testing.T) {
	f := newFixture(t, Options{})
	svc := f.svc(f.userToken(UserEmail(1)))
	ev := timed("Meeting", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")
	ev.Attendees = []*gcal.EventAttendee{{Email: UserEmail(2)}, {Email: ResourceEmail(1), Resource: true}, {Email: "guest@example.com"}}
	ev.ExtendedProperties = &gcal.EventExtendedProperties{Private: map[string]string{"syncId": "mine"}}
	got, err := svc.Events.Insert(UserEmail(1), ev).SendUpdates("none").Do()
	if err != nil {
		t.Fatal(err)
	}
	if st := f.s.Stats(); st.MailsSent != 0 {
		t.Fatalf("sendUpdates=none mailed %d", st.MailsSent)
	}
	// Copies under the same id; the private property stays with the organizer's copy.
	for _, c := range []string{UserEmail(2), ResourceEmail(1)} {
		cp, ok := f.s.Event(c, got.Id)
		if !ok || cp.Summary != "Meeting" || cp.ExtendedProperties != nil {
			t.Fatalf("copy in %s: %v %+v", c, ok, cp)
		}
	}
	// The room accepted by itself, after the write.
	org, _ := f.s.Event(UserEmail(1), got.Id)
	for _, a := range org.Attendees {
		if a.Email == ResourceEmail(1) && a.ResponseStatus != "accepted" {
			t.Fatalf("room answer %q", a.ResponseStatus)
		}
	}
	if org.Etag == got.Etag {
		t.Fatal("the room's answer did not change the organizer's event")
	}
	// A write without sendUpdates=none would mail the two people (not the room).
	if _, err := svc.Events.Patch(UserEmail(1), got.Id, &gcal.Event{Summary: "Meeting 2"}).Do(); err != nil {
		t.Fatal(err)
	}
	if st := f.s.Stats(); st.MailsSent != 2 {
		t.Fatalf("mails %d, want 2", st.MailsSent)
	}
	cp, _ := f.s.Event(UserEmail(2), got.Id)
	if cp.Summary != "Meeting 2" {
		t.Fatalf("copy not updated: %q", cp.Summary)
	}
	// user2 declines on their copy: the organizer sees it.
	svc2 := f.svc(f.userToken(UserEmail(2)))
	if err := svc2.Events.Delete(UserEmail(2), got.Id).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	org, _ = f.s.Event(UserEmail(1), got.Id)
	for _, a := range org.Attendees {
		if a.Email == UserEmail(2) && a.ResponseStatus != "declined" {
			t.Fatalf("decline not seen by organizer: %q", a.ResponseStatus)
		}
	}
	// The organizer deletes: the room's copy is cancelled.
	if err := svc.Events.Delete(UserEmail(1), got.Id).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	if rc, _ := f.s.Event(ResourceEmail(1), got.Id); rc.Status != "cancelled" {
		t.Fatalf("room copy after delete: %q", rc.Status)
	}
}

func TestQuotaAndFaults(t *testing.T) {
	f := newFixture(t, Options{QuotaPerUser: 5})
	svc := f.svc(f.userToken(UserEmail(1)))
	for i := 0; i < 5; i++ {
		if _, err := svc.Events.List(UserEmail(1)).Do(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := svc.Events.List(UserEmail(1)).Do()
	if c, r := gReason(err); c != 403 || r != "userRateLimitExceeded" {
		t.Fatalf("over quota: %v", err)
	}
	// The window slides: a minute later the user may go on.
	f.now = f.now.Add(61 * time.Second)
	if _, err := svc.Events.List(UserEmail(1)).Do(); err != nil {
		t.Fatal(err)
	}
	f.s.SetFaults(Faults{Throttle: 1, RetryAfter: 3, UserQuota: -1})
	code, hdr, m := f.raw(f.userToken(UserEmail(1)), "GET", "/calendar/v3/calendars/primary/events", nil, nil)
	if code != 429 || hdr.Get("Retry-After") != "3" || reason(m) != "rateLimitExceeded" {
		t.Fatalf("throttle fault: %d %v %v", code, hdr, m)
	}
	f.s.SetFaults(Faults{ServerErrors: 1, UserQuota: -1})
	code, _, m = f.raw(f.userToken(UserEmail(1)), "GET", "/calendar/v3/calendars/primary/events", nil, nil)
	if (code != 500 && code != 503) || reason(m) != "backendError" {
		t.Fatalf("server error fault: %d %v", code, m)
	}
	f.s.SetFaults(Faults{TruncateNext: 1, UserQuota: -1})
	_, err = svc.Events.List(UserEmail(1)).Do()
	if err == nil {
		t.Fatal("truncated body decoded")
	}
	if _, err := svc.Events.List(UserEmail(1)).Do(); err != nil {
		t.Fatalf("only the next body is cut: %v", err)
	}
	st := f.s.Stats()
	if st.Requests["GET /calendar/v3/calendars/{calendarId}/events"] < 9 || st.Throttled < 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestDirectoryResources(t *testing.T) {
	f := newFixture(t, Options{})
	for i := 2; i <= 7; i++ {
		if err := f.s.AddResource(Resource{Email: ResourceEmail(i), Name: "Room " + string(rune('0'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	admin := f.userToken(UserEmail(2))
	var emails []string
	pt := ""
	for pages := 0; ; pages++ {
		code, _, m := f.raw(admin, "GET", "/admin/directory/v1/customer/my_customer/resources/calendars?maxResults=3&pageToken="+pt, nil, nil)
		if code != 200 {
			t.Fatal(code, m)
		}
		for _, it := range m["items"].([]any) {
			emails = append(emails, it.(map[string]any)["resourceEmail"].(string))
		}
		next, _ := m["nextPageToken"].(string)
		if next == "" {
			break
		}
		pt = url.QueryEscape(next)
	}
	if len(emails) != 7 {
		t.Fatalf("resources: %v", emails)
	}
	if code, _, m := f.raw(f.userToken(UserEmail(1)), "GET", "/admin/directory/v1/customer/my_customer/resources/calendars", nil, nil); code != 403 {
		t.Fatalf("non-admin: %d %v", code, m)
	}
	// The admin's token reaches the room's calendar; a user's does not.
	if code, _, _ := f.raw(admin, "GET", "/calendar/v3/calendars/"+url.PathEscape(ResourceEmail(1))+"/events", nil, nil); code != 200 {
		t.Fatalf("admin on room: %d", code)
	}
	if code, _, _ := f.raw(f.userToken(UserEmail(1)), "GET", "/calendar/v3/calendars/"+url.PathEscape(ResourceEmail(1))+"/events", nil, nil); code != 404 {
		t.Fatalf("user on room: %d", code)
	}
	// A token without the directory scope is refused with insufficientPermissions.
	narrow, _ := f.s.TokenFor(UserEmail(2), scopePrefix+"calendar.events")
	if code, _, m := f.raw(narrow, "GET", "/admin/directory/v1/customer/my_customer/resources/calendars", nil, nil); code != 403 || reason(m) != "insufficientPermissions" {
		t.Fatalf("scope: %d %v", code, m)
	}
}

func TestResourcesDeclineConflicts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		on        bool
		start     string
		end       string
		want      string
		wantFirst string
	}{
		{"overlap declined", true, "2024-05-07T09:30:00+02:00", "2024-05-07T10:30:00+02:00", "declined", "accepted"},
		{"adjacent accepted", true, "2024-05-07T10:00:00+02:00", "2024-05-07T11:00:00+02:00", "accepted", "accepted"},
		{"switch off: double booked", false, "2024-05-07T09:30:00+02:00", "2024-05-07T10:30:00+02:00", "accepted", "accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{ResourcesDeclineConflicts: tc.on})
			svc := f.svc(f.userToken(UserEmail(1)))
			book := func(title, start, end string) string {
				ev := timed(title, start, end)
				ev.Attendees = []*gcal.EventAttendee{{Email: ResourceEmail(1), Resource: true}}
				got, err := svc.Events.Insert(UserEmail(1), ev).SendUpdates("none").Do()
				if err != nil {
					t.Fatal(err)
				}
				return got.Id
			}
			answer := func(id string) string {
				org, _ := f.s.Event(UserEmail(1), id)
				for _, a := range org.Attendees {
					if a.Email == ResourceEmail(1) {
						return a.ResponseStatus
					}
				}
				return ""
			}
			first := book("First", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")
			second := book("Second", tc.start, tc.end)
			if got := answer(first); got != tc.wantFirst {
				t.Errorf("first booking: %q, want %q", got, tc.wantFirst)
			}
			if got := answer(second); got != tc.want {
				t.Errorf("second booking: %q, want %q", got, tc.want)
			}
			if st := f.s.Stats(); st.MailsSent != 0 {
				t.Errorf("mails %d", st.MailsSent)
			}
		})
	}
}

// The organizer's cancelled occurrences and a cancelled series reach the
// attendees' copies.
func TestMeetingSeriesCancellationsReachCopies(t *testing.T) {
	f := newFixture(t, Options{})
	svc := f.svc(f.userToken(UserEmail(1)))
	ev := timed("Weekly", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")
	ev.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=4"}
	ev.Attendees = []*gcal.EventAttendee{{Email: UserEmail(2)}}
	got, err := svc.Events.Insert(UserEmail(1), ev).SendUpdates("none").Do()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := svc.Events.Instances(UserEmail(1), got.Id).Do()
	if err != nil || len(inst.Items) != 4 {
		t.Fatalf("instances: %v %d", err, len(inst.Items))
	}
	moved := &gcal.Event{Start: &gcal.EventDateTime{DateTime: "2024-05-14T11:00:00+02:00"}, End: &gcal.EventDateTime{DateTime: "2024-05-14T12:00:00+02:00"}}
	if _, err := svc.Events.Patch(UserEmail(1), inst.Items[1].Id, moved).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Events.Delete(UserEmail(1), inst.Items[2].Id).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	svc2 := f.svc(f.userToken(UserEmail(2)))
	copies, err := svc2.Events.Instances(UserEmail(2), got.Id).Do()
	if err != nil {
		t.Fatal(err)
	}
	var starts []string
	for _, it := range copies.Items {
		starts = append(starts, it.Start.DateTime)
	}
	if len(starts) != 3 || !strings.HasPrefix(starts[1], "2024-05-14T11:00") {
		t.Fatalf("attendee's occurrences: %v", starts)
	}
	if c, ok := f.s.Event(UserEmail(2), inst.Items[2].Id); !ok || c.Status != "cancelled" {
		t.Fatalf("attendee's cancelled occurrence: %v %q", ok, c.Status)
	}
	// The organizer cancels the series: the attendee's exception goes too.
	if err := svc.Events.Delete(UserEmail(1), got.Id).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.s.Event(UserEmail(2), inst.Items[1].Id); c.Status != "cancelled" {
		t.Fatalf("attendee's exception after the series was cancelled: %q", c.Status)
	}
	if c, _ := f.s.Event(UserEmail(2), got.Id); c.Status != "cancelled" {
		t.Fatalf("attendee's series after it was cancelled: %q", c.Status)
	}
}
