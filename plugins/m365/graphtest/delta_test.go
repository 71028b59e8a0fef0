package graphtest

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// walk follows a delta round to its deltaLink and returns its items.
func walk(t *testing.T, a *api, first string, pageSize string) (items []map[string]any, deltaLink string, pages int) {
	t.Helper()
	next := first
	for pages = 0; pages < 1000; pages++ {
		var hdr []string
		if pageSize != "" {
			hdr = []string{"Prefer", "odata.maxpagesize=" + pageSize}
		}
		p := a.must(200, "GET", next, nil, hdr...)
		items = append(items, values(p)...)
		if d, ok := p.body["@odata.deltaLink"].(string); ok {
			return items, d, pages + 1
		}
		next, _ = p.body["@odata.nextLink"].(string)
		if next == "" {
			t.Fatalf("page without next or delta link: %s", p.raw)
		}
	}
	t.Fatal("delta round does not end")
	return
}

func TestCalendarViewDelta(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	for i := 0; i < 12; i++ {
		a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("single", testStart.Add(time.Duration(i+1)*time.Hour), time.Hour, "UTC"))
	}
	series := timedEvent("series", testStart.Add(2*time.Hour), time.Hour, "UTC")
	series["recurrence"] = map[string]any{"pattern": map[string]any{"type": "daily", "interval": 1}, "range": map[string]any{"type": "numbered", "numberOfOccurrences": 3, "startDate": "2026-03-16"}}
	mid := str(a.must(201, "POST", "/v1.0/users/user1@m365.test/events", series).body, "id")
	far := str(a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("far", testStart.AddDate(2, 0, 0), time.Hour, "UTC")).body, "id")

	// The SDK's function syntax and an encoded @.
	start := "/v1.0/users/user1%40m365.test/calendarView/delta()?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-06-01T00:00:00Z"
	items, dl, pages := walk(t, a, start, "5")
	if len(items) != 15 || pages < 3 {
		t.Fatalf("initial round: %d items in %d pages", len(items), pages)
	}
	stubs := 0
	for _, it := range items {
		if str(it, "type") == "occurrence" {
			stubs++
			want := map[string]bool{"@odata.type": true, "@odata.etag": true, "id": true, "type": true, "seriesMasterId": true, "start": true, "end": true}
			for k := range it {
				if !want[k] {
					t.Errorf("stub has %q", k)
				}
			}
			if str(it, "seriesMasterId") != mid {
				t.Errorf("stub of %s", str(it, "seriesMasterId"))
			}
		}
		if str(it, "id") == far {
			t.Error("an item outside the window listed")
		}
	}
	if stubs != 3 {
		t.Fatalf("%d occurrence stubs", stubs)
	}
	if !strings.Contains(dl, "/calendarView/delta?$deltatoken=") || !strings.HasPrefix(dl, ts.URL) {
		t.Fatalf("deltaLink %s", dl)
	}
	// No change: an empty page with a new deltaLink.
	items, dl2, _ := walk(t, a, dl, "")
	if len(items) != 0 || dl2 == "" {
		t.Fatalf("idle round: %v", items)
	}
	// Changes: one edit inside, the far item moved in, one delete, one item moved out.
	all := values(a.must(200, "GET", "/v1.0/users/user1@m365.test/events?$top=100&$filter="+url.QueryEscape("subject eq 'single'"), nil))
	a.must(200, "PATCH", "/v1.0/users/user1@m365.test/events/"+str(all[0], "id"), map[string]any{"subject": "edited"})
	a.must(204, "DELETE", "/v1.0/users/user1@m365.test/events/"+str(all[1], "id"), nil)
	a.must(200, "PATCH", "/v1.0/users/user1@m365.test/events/"+str(all[2], "id"), map[string]any{"start": map[string]string{"dateTime": "2029-01-01T00:00:00", "timeZone": "UTC"}, "end": map[string]string{"dateTime": "2029-01-01T01:00:00", "timeZone": "UTC"}})
	items, _, _ = walk(t, a, dl2, "")
	got := map[string]string{}
	for _, it := range items {
		if _, ok := it["@removed"]; ok {
			got[str(it, "id")] = "removed"
		} else {
			got[str(it, "id")] = str(it, "subject")
		}
	}
	want := map[string]string{str(all[0], "id"): "edited", str(all[1], "id"): "removed", str(all[2], "id"): "removed"}
	if len(got) != len(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("changes %v, want %v", got, want)
		}
	}
	// Options the delta function does not take.
	for _, q := range []string{"$select=subject", "$expand=extensions", "$filter=" + url.QueryEscape("subject eq 'x'"), "$top=5"} {
		ans := a.do("GET", start+"&"+q, nil)
		if ans.status != 400 || errCode(ans) != "ErrorInvalidUrlQuery" {
			t.Errorf("%s: %d %s", q, ans.status, ans.raw)
		}
	}
	// A tampered token is refused; an expired one is gone.
	u, _ := url.Parse(dl2)
	tok := u.Query().Get("$deltatoken")
	if ans := a.do("GET", "/v1.0/users/user1@m365.test/calendarView/delta?$deltatoken="+url.QueryEscape(tok[:len(tok)-2]+"xx"), nil); ans.status != 400 {
		t.Errorf("tampered token: %d", ans.status)
	}
	if ans := a.do("GET", "/v1.0/users/user2@m365.test/calendarView/delta?$deltatoken="+url.QueryEscape(tok), nil); ans.status != 400 {
		t.Errorf("another mailbox's token: %d", ans.status)
	}
	resp := a.do("POST", "/_emulator/faults", map[string]any{"expire_cursors": true})
	if resp.status != 200 {
		t.Fatal(resp.raw)
	}
	if ans := a.do("GET", dl2, nil); ans.status != 410 || errCode(ans) != "SyncStateNotFound" {
		t.Fatalf("expired: %d %s", ans.status, ans.raw)
	}
}

// Forgetting old deletions expires the tokens that would need them.
func TestTombstoneLimit(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{TombstoneLimit: 3})
	a := newAPI(t, ts, s.AdminToken())
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, str(a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("x", testStart.Add(time.Hour), time.Hour, "UTC")).body, "id"))
	}
	_, dl, _ := walk(t, a, "/v1.0/users/user1@m365.test/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-06-01T00:00:00Z", "")
	a.must(204, "DELETE", "/v1.0/users/user1@m365.test/events/"+ids[0], nil)
	_, dlAfterOne, _ := walk(t, a, dl, "")
	for _, id := range ids[1:] {
		a.must(204, "DELETE", "/v1.0/users/user1@m365.test/events/"+id, nil)
	}
	if ans := a.do("GET", dl, nil); ans.status != 410 {
		t.Fatalf("a token older than the remembered deletions: %d", ans.status)
	}
	items, _, _ := walk(t, a, dlAfterOne, "")
	if len(items) != 3 {
		t.Fatalf("removals: %v", items)
	}
}
