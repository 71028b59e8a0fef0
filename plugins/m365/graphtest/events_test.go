package graphtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestErrorShapes(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	good := a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("x", testStart, time.Hour, "UTC"))
	id := str(good.body, "id")
	tests := []struct {
		name   string
		api    *api
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"no token", newAPI(t, ts, ""), "GET", "/v1.0/users/user1@m365.test/events", nil, 401, "InvalidAuthenticationToken"},
		{"unknown token", newAPI(t, ts, "eyJ.bogus.token"), "GET", "/v1.0/users/user1@m365.test/events", nil, 401, "InvalidAuthenticationToken"},
		{"unknown user's events", a, "GET", "/v1.0/users/nobody@m365.test/events", nil, 404, "ErrorInvalidUser"},
		{"unknown user", a, "GET", "/v1.0/users/nobody@m365.test", nil, 404, "Request_ResourceNotFound"},
		{"malformed id", a, "GET", "/v1.0/users/user1@m365.test/events/not-an-id", nil, 400, "ErrorInvalidIdMalformed"},
		{"unknown id", a, "GET", "/v1.0/users/user1@m365.test/events/AAkALgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", nil, 404, "ErrorItemNotFound"},
		{"another mailbox's id", a, "GET", "/v1.0/users/user2@m365.test/events/" + id, nil, 404, "ErrorItemNotFound"},
		{"unknown property", a, "POST", "/v1.0/users/user1@m365.test/events", map[string]any{"subjekt": "x"}, 400, "RequestBodyRead"},
		{"bad zone", a, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("x", testStart, time.Hour, "Mars/Olympus"), 400, "TimeZoneNotSupportedException"},
		{"end before start", a, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("x", testStart, -time.Hour, "UTC"), 400, "ErrorInvalidRequest"},
		{"all-day not at midnight", a, "POST", "/v1.0/users/user1@m365.test/events", map[string]any{"isAllDay": true, "start": map[string]string{"dateTime": "2026-03-17T10:00:00", "timeZone": "UTC"}, "end": map[string]string{"dateTime": "2026-03-18T10:00:00", "timeZone": "UTC"}}, 400, "ErrorPropertyValidationFailure"},
		{"bad recurrence", a, "POST", "/v1.0/users/user1@m365.test/events", withRec(timedEvent("x", testStart, time.Hour, "UTC"), "weekly", nil), 400, "ErrorPropertyValidationFailure"},
		{"unknown segment", a, "GET", "/v1.0/users/user1@m365.test/widgets", nil, 400, "BadRequest"},
		{"calendarView without window", a, "GET", "/v1.0/users/user1@m365.test/calendarView", nil, 400, "ErrorInvalidParameter"},
		{"bad filter", a, "GET", "/v1.0/users/user1@m365.test/events?$filter=" + url.QueryEscape("subject wibble 'x'"), nil, 400, "ErrorInvalidUrlQueryFilter"},
		{"me with an app token", a, "GET", "/v1.0/me", nil, 400, "BadRequest"},
		{"stale If-Match", a, "PATCH", "/v1.0/users/user1@m365.test/events/" + id, map[string]any{"subject": "y"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.name == "stale If-Match" {
				hdr = []string{"If-Match", `W/"stale"`}
				tc.status, tc.code = 412, "ErrorIrresolvableConflict"
			}
			ans := tc.api.do(tc.method, tc.path, tc.body, hdr...)
			if ans.status != tc.status || errCode(ans) != tc.code {
				t.Fatalf("%d %s, want %d %s: %s", ans.status, errCode(ans), tc.status, tc.code, ans.raw)
			}
			e := ans.body["error"].(map[string]any)
			inner, _ := e["innerError"].(map[string]any)
			if str(e, "message") == "" || inner == nil || str(inner, "request-id") == "" || str(inner, "date") == "" || str(inner, "client-request-id") == "" {
				t.Errorf("incomplete envelope %s", ans.raw)
			}
			if ans.header.Get("request-id") == "" {
				t.Error("no request-id header")
			}
			if tc.status == 401 && !strings.HasPrefix(ans.header.Get("WWW-Authenticate"), "Bearer") {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func withRec(ev map[string]any, typ string, days []string) map[string]any {
	ev["recurrence"] = map[string]any{"pattern": map[string]any{"type": typ, "interval": 1, "daysOfWeek": days}, "range": map[string]any{"type": "noEnd", "startDate": "2026-03-16"}}
	return ev
}

func TestEventLifecycle(t *testing.T) {
	s, ts, clk := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	body := timedEvent("Lunch", time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC), time.Hour, "W. Europe Standard Time")
	body["transactionId"] = "tx-1"
	created := a.must(201, "POST", "/v1.0/users/user1@m365.test/calendar/events", body)
	id, etag, ck := str(created.body, "id"), str(created.body, "@odata.etag"), str(created.body, "changeKey")
	if etag != `W/"`+ck+`"` || ck == "" {
		t.Fatalf("etag %q changeKey %q", etag, ck)
	}
	if str(created.body, "start", "dateTime") != "2026-03-20T11:00:00.0000000" || str(created.body, "start", "timeZone") != "UTC" || str(created.body, "originalStartTimeZone") != "W. Europe Standard Time" {
		t.Fatalf("times %s", created.raw)
	}
	// The same transactionId returns the same event.
	again := a.must(201, "POST", "/v1.0/users/user1@m365.test/calendar/events", body)
	if str(again.body, "id") != id {
		t.Fatal("transactionId did not de-duplicate")
	}
	// Another mailbox's create with the same transactionId is its own; and once
	// the event is gone, the transactionId makes a new one.
	other := a.must(201, "POST", "/v1.0/users/user2@m365.test/calendar/events", body)
	if str(other.body, "id") == id {
		t.Fatal("another mailbox got user1's event")
	}
	a.must(204, "DELETE", "/v1.0/users/user2@m365.test/events/"+str(other.body, "id"), nil)
	if renewed := a.must(201, "POST", "/v1.0/users/user2@m365.test/calendar/events", body); str(renewed.body, "id") == str(other.body, "id") {
		t.Fatal("a deleted event came back for its transactionId")
	}
	// Prefer: outlook.timezone, as a separate header line.
	got := a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+id, nil, "Prefer", `outlook.timezone="Pacific Standard Time"`)
	if str(got.body, "start", "dateTime") != "2026-03-20T04:00:00.0000000" || str(got.body, "start", "timeZone") != "Pacific Standard Time" {
		t.Fatalf("in Pacific time: %v", got.body["start"])
	}
	clk.Advance(time.Minute)
	// A gzip-compressed PATCH, If-Match with the current etag.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_ = json.NewEncoder(zw).Encode(map[string]any{"subject": "Long lunch"})
	zw.Close()
	req, _ := http.NewRequest("PATCH", ts.URL+"/v1.0/users/user1%40m365.test/events/"+id, &zb)
	req.Header.Set("Authorization", "Bearer "+s.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("If-Match", etag)
	req.Header.Add("Prefer", `IdType="ImmutableId"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var patched map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&patched)
	resp.Body.Close()
	if resp.StatusCode != 200 || patched["subject"] != "Long lunch" || patched["changeKey"] == ck || patched["lastModifiedDateTime"] == created.body["lastModifiedDateTime"] {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, patched)
	}
	// The old etag is stale now.
	if ans := a.do("DELETE", "/v1.0/users/user1@m365.test/events/"+id, nil, "If-Match", etag); ans.status != 412 {
		t.Fatalf("DELETE with a stale etag: %d", ans.status)
	}
	a.must(204, "PATCH", "/v1.0/users/user1@m365.test/events/"+id, map[string]any{"showAs": "free"}, "Prefer", "return=minimal")
	a.must(204, "DELETE", "/v1.0/users/user1@m365.test/events/"+id, nil)
	a.must(404, "GET", "/v1.0/users/user1@m365.test/events/"+id, nil)
}

func TestImmutableIDs(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	immutable := newAPI(t, ts, s.AdminToken())
	rest := newAPI(t, ts, s.AdminToken())
	rest.prefer = nil
	made := immutable.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("x", testStart, time.Hour, "UTC"))
	iid := str(made.body, "id")
	rid := str(rest.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+iid, nil).body, "id")
	if rid == iid || !strings.HasPrefix(rid, "AAMk") || !strings.HasPrefix(iid, "AAkALg") {
		t.Fatalf("ids %s / %s", iid, rid)
	}
	rest.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+rid, nil)
	if err := s.MoveItems("user1@m365.test"); err != nil {
		t.Fatal(err)
	}
	rest.must(404, "GET", "/v1.0/users/user1@m365.test/events/"+rid, nil)
	immutable.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+iid, nil)
}

func TestExtendedPropertiesAndExtensions(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	const pid = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SyncCorrelationId"
	ev := timedEvent("tagged", testStart, time.Hour, "UTC")
	ev["singleValueExtendedProperties"] = []any{map[string]string{"id": pid, "value": "c-'1"}}
	id := str(a.must(201, "POST", "/v1.0/users/user1@m365.test/events", ev).body, "id")
	a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("untagged", testStart, time.Hour, "UTC"))
	filter := "singleValueExtendedProperties/Any(ep: ep/id eq '" + strings.ToUpper(pid[:6]) + pid[6:] + "' and ep/value eq 'c-''1')"
	found := a.must(200, "GET", "/v1.0/users/user1@m365.test/events?$filter="+url.QueryEscape(filter)+"&$expand="+url.QueryEscape("singleValueExtendedProperties($filter=id eq '"+pid+"')"), nil)
	vals := values(found)
	if len(vals) != 1 || str(vals[0], "id") != id {
		t.Fatalf("lookup: %s", found.raw)
	}
	props, _ := vals[0]["singleValueExtendedProperties"].([]any)
	if len(props) != 1 || props[0].(map[string]any)["value"] != "c-'1" {
		t.Fatalf("expanded: %v", vals[0]["singleValueExtendedProperties"])
	}
	// Without $expand the properties are not there.
	if _, ok := a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+id, nil).body["singleValueExtendedProperties"]; ok {
		t.Error("properties returned without $expand")
	}
	// Open extensions.
	a.must(201, "POST", "/v1.0/users/user1@m365.test/events/"+id+"/extensions", map[string]any{"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "com.example.sync", "correlationId": "c-1"})
	a.must(409, "POST", "/v1.0/users/user1@m365.test/events/"+id+"/extensions", map[string]any{"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "com.example.sync"})
	a.must(200, "PATCH", "/v1.0/users/user1@m365.test/events/"+id+"/extensions/com.example.sync", map[string]any{"n": 2})
	x := a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+id+"?$expand="+url.QueryEscape("extensions($filter=id eq 'Microsoft.OutlookServices.OpenTypeExtension.com.example.sync')"), nil)
	exts, _ := x.body["extensions"].([]any)
	if len(exts) != 1 || exts[0].(map[string]any)["correlationId"] != "c-1" || exts[0].(map[string]any)["n"] != float64(2) {
		t.Fatalf("extensions: %s", x.raw)
	}
	a.must(204, "DELETE", "/v1.0/users/user1@m365.test/events/"+id+"/extensions/com.example.sync", nil)
	a.must(404, "GET", "/v1.0/users/user1@m365.test/events/"+id+"/extensions/com.example.sync", nil)
}

func TestSelectAndPaging(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	for i := 0; i < 25; i++ {
		a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("e", testStart.Add(time.Duration(i)*time.Hour), time.Hour, "UTC"))
	}
	next := "/v1.0/users/user1@m365.test/events?$select=subject"
	seen := 0
	for pages := 0; next != ""; pages++ {
		page := a.must(200, "GET", next, nil)
		for _, v := range values(page) {
			if len(v) != 3 { // @odata.etag, id, subject
				t.Fatalf("$select gave %v", v)
			}
			seen++
		}
		next, _ = page.body["@odata.nextLink"].(string)
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if seen != 25 {
		t.Fatalf("paged through %d", seen)
	}
	page := a.must(200, "GET", "/v1.0/users/user1@m365.test/calendarView?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z", nil, "Prefer", "odata.maxpagesize=20")
	if len(values(page)) != 20 || page.body["@odata.nextLink"] == nil || !strings.Contains(page.header.Get("Preference-Applied"), "odata.maxpagesize=20") {
		t.Fatalf("maxpagesize: %d %v", len(values(page)), page.header)
	}
}
